"""Where a callgrind dump's instructions went: by library and by function (exclusive cost).

    python3 bench/callgrind_summary.py target/release/callgrind/gatebell.out.2 500 [TOP]

The dumps come from `cargo xtask bench` (one per provider, 500 messages each); the second
argument divides the totals per message. callgrind_annotate charges a multi-threaded dump's
whole cost to the threads' `clone`, so this reads the file's exclusive costs itself.
"""
import sys, re, collections
names = {}
excl = collections.Counter()
fn = None
skip = False
for line in open(sys.argv[1], errors='replace'):
    line = line.rstrip('\n')
    if line.startswith('fn='):
        m = re.match(r'fn=\((\d+)\)(?: (.*))?', line)
        if m:
            if m.group(2): names[m.group(1)] = m.group(2)
            fn = names.get(m.group(1), m.group(1))
        else:
            fn = line[3:]
        continue
    if line.startswith('calls='):
        skip = True; continue
    if line and (line[0].isdigit() or line[0] in '+-*'):
        if skip: skip = False; continue
        parts = line.split()
        if len(parts) >= 2 and fn:
            try: excl[fn] += int(parts[1])
            except ValueError: pass
        continue
    if line.startswith(('cfn=','cfi=','cfl=','cob=')):
        m = re.match(r'cfn=\((\d+)\)(?: (.*))?', line)
        if m and m.group(2): names[m.group(1)] = m.group(2)
total = sum(excl.values())
n = int(sys.argv[2]) if len(sys.argv) > 2 else 1
def bucket(f):
    for key, label in [('nistz256','P-256 arithmetic (ring: ECDH keygen + agreement)'), ('ecp_','P-256 arithmetic (ring: ECDH keygen + agreement)'), ('sha256','SHA-256 (HKDF, ids)'), ('bn_','RSA (the OAuth token, once)'), ('mul4x','RSA (the OAuth token, once)'), ('aes','AES-GCM'), ('gcm','AES-GCM'), ('json','SQLite JSON (the batch statements)'), ('ring','ring (other)'), ('p256','p256'), ('openssl','OpenSSL'), ('libcrypto','OpenSSL'), ('sqlite3','SQLite'), ('sqlx','sqlx'), ('hyper','hyper'), ('h2::','h2'), ('reqwest','reqwest'), ('tokio','tokio'), ('serde_json','serde_json'), ('malloc','allocator'), ('free','allocator'), ('realloc','allocator'), ('_int_','allocator'), ('mem','memcpy/memset'), ('prometheus','prometheus'), ('gatebell','gatebell'), ('axum','axum'), ('tracing','tracing'), ('core::fmt','formatting'), ('alloc::fmt','formatting'), ('uuid','uuid'), ('rand','rand')]:
        if key in f: return label
    return 'other'
b = collections.Counter()
for f, c in excl.items(): b[bucket(f)] += c
print(f"total {total:,} Ir = {total/n/1000:.0f} thousand per message over {n}")
for k, c in b.most_common(14): print(f"  {k:32s} {c/total*100:5.1f} %  {c/n/1000:7.1f} k/msg")
print("top functions:")
for f, c in excl.most_common(int(sys.argv[3]) if len(sys.argv) > 3 else 12): print(f"  {c/total*100:5.1f} %  {f[:150]}")
