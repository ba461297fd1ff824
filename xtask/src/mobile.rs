//! `cargo xtask mobile generate|test`: the UniFFI bindings of gatebell-mobile.
//!
//! `generate` builds the library and writes the bindings into mobile-bindings/generated/
//! (Kotlin, Swift, the React Native TurboModule). `test` does that, then drives the real
//! library through every binding it can run here: pytest against a real `gatebell serve`,
//! `tsc --strict` over the TurboModule and the README example, a Node test of the N-API
//! bindings, a g++ link of the TurboModule's C++ against React Native's JSI, and a Kotlin test;
//! then packs `react-native-gatebell` (its SDK, mobile-bindings/sdk/, over the TurboModule) with
//! `npm pack`, and checks the example app (mobile-bindings/example/): `tsc --strict`, the SDK in
//! Node against a real `gatebell serve` and the fake FCM, Metro bundles for both platforms, and
//! a fresh project that installs the tarball and type-checks the example against it.
//!
//! Missing tools are installed (npm ci, a Python venv, Debian packages, the JNA jar); the slow
//! ones are kept between runs: the uniffi-bindgen-react-native CLI (about 6 minutes to build)
//! and the JNA download live in ~/.cache/gatebell (`GATEBELL_CACHE_DIR` overrides it).

use crate::process::{Steps, build_native, ensure_debian, npm_ci, run as exec};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const LIB: &str = "libgatebell_mobile.so";
const NAMESPACE: &str = "gatebell_mobile";

/// Entry point: `generate` or `test`.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut timings = Steps::default();
    let result = match args.first().map(String::as_str) {
        Some("generate") => generate(&Paths::new(), &mut timings),
        Some("test") => test(&Paths::new(), &mut timings),
        _ => Err("usage: cargo xtask mobile <generate | test>".into()),
    };
    timings.print();
    result
}

/// The mobile suite as steps of the caller's (`cargo xtask test`) timing table.
pub fn test_steps(steps: &mut Steps) -> Result<(), String> {
    steps.set_prefix("mobile: ");
    let result = test(&Paths::new(), steps);
    steps.set_prefix("");
    result
}

struct Paths {
    root: PathBuf,
    /// mobile-bindings/
    crate_dir: PathBuf,
    /// The workspace target directory (shared with every other build).
    target: PathBuf,
    /// Scratch space of the tests: target/mobile/.
    work: PathBuf,
    /// Kept across runs on this machine.
    cache: PathBuf,
}

impl Paths {
    fn new() -> Paths {
        let root = crate::process::root();
        let target = crate::process::target_dir();
        let cache = crate::process::cache_dir();
        Paths {
            crate_dir: root.join("mobile-bindings"),
            work: target.join("mobile"),
            root,
            target,
            cache,
        }
    }

    fn library(&self) -> PathBuf {
        self.target.join("debug").join(LIB)
    }

    fn generated(&self) -> PathBuf {
        self.crate_dir.join("generated")
    }

    fn node_modules(&self) -> PathBuf {
        self.crate_dir.join("node_modules")
    }

    /// mobile-bindings/example/: the React Native app.
    fn example(&self) -> PathBuf {
        self.crate_dir.join("example")
    }
}

fn generate(p: &Paths, t: &mut Steps) -> Result<(), String> {
    t.step("npm ci (when package-lock.json changed)", || {
        npm_ci(&p.crate_dir)
    })?;
    t.step(
        "cargo build (native crates, as the Rust tests build them)",
        || exec(&mut build_native()),
    )?;
    let ubrn = ubrn_cli(p, t)?;
    t.step("generate Kotlin, Swift, TurboModule", || {
        let out = p.generated();
        if out.exists() {
            fs::remove_dir_all(&out).map_err(|e| format!("removing {}: {e}", out.display()))?;
        }
        for language in ["kotlin", "swift"] {
            uniffi_bindgen(p, language, &out.join(language))?;
        }
        let rn = out.join("react-native");
        exec(
            Command::new(&ubrn)
                .current_dir(&p.crate_dir)
                .args(["generate", "jsi", "bindings", "--library", "--ts-dir"])
                .arg(rn.join("src/generated"))
                .arg("--cpp-dir")
                .arg(rn.join("cpp/generated"))
                .arg(p.library()),
        )?;
        exec(
            Command::new(&ubrn)
                .current_dir(&p.crate_dir)
                .args([
                    "generate",
                    "jsi",
                    "turbo-module",
                    "--config",
                    "ubrn.config.yaml",
                ])
                .arg(NAMESPACE),
        )
    })
}

fn test(p: &Paths, t: &mut Steps) -> Result<(), String> {
    t.step("system packages (g++, Java) when absent", || {
        ensure_debian(&[("g++", "g++"), ("java", "openjdk-17-jre-headless")])
    })?;
    // generate() built gatebell-server too (the pytest suite runs `gatebell serve`).
    generate(p, t)?;
    t.step("pytest: Python bindings against gatebell serve", || {
        pytest(p)
    })?;
    t.step("tsc --strict: TurboModule, SDK and README example", || {
        tsc_strict(p)
    })?;
    let ubrn = ubrn_cli(p, t)?;
    t.step("node --test: N-API bindings", || node_test(p, &ubrn))?;
    t.step("g++: TurboModule C++ against JSI, linked", || cpp_link(p))?;
    t.step("kotlin: compile bindings and run a test", || kotlin(p))?;
    let mut tarball = PathBuf::new();
    t.step(
        "npm pack: react-native-gatebell (prepack), contents checked",
        || {
            tarball = pack(p)?;
            Ok(())
        },
    )?;
    t.step("example: npm ci (when package-lock.json changed)", || {
        npm_ci(&p.example())
    })?;
    t.step("example: tsc --strict", || example_tsc(p))?;
    t.step(
        "example: node --test, the SDK against gatebell serve + fake FCM",
        || example_node_test(p),
    )?;
    t.step("example: Metro bundles for android and ios", || {
        metro_bundles(p)
    })?;
    t.step(
        "fresh project: npm install the tarball, tsc --strict the example",
        || fresh_install(p, &tarball),
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Tools

/// The uniffi-bindgen-react-native CLI, built once per version into the cache. Calling it
/// through `node …/cli.cjs` would rebuild it after every `npm ci` (it builds in node_modules).
fn ubrn_cli(p: &Paths, t: &mut Steps) -> Result<PathBuf, String> {
    let package = p.node_modules().join("uniffi-bindgen-react-native");
    let version = json_string_field(&read(&package.join("package.json"))?, "version")
        .ok_or("no version in uniffi-bindgen-react-native/package.json")?;
    let target = p.cache.join(format!("ubrn-{version}")).join("target");
    let binary = target.join("debug/uniffi-bindgen-react-native");
    if !binary.exists() {
        t.step(
            &format!("build uniffi-bindgen-react-native {version} CLI (once, ~6 min)"),
            || {
                // A tool built once and never debugged: no debug info and no incremental
                // state, which are most of its 1.5 GB target and part of its build time.
                exec(
                    cargo(p)
                        .args(["build", "--manifest-path"])
                        .arg(package.join("crates/ubrn_cli/Cargo.toml"))
                        .arg("--target-dir")
                        .arg(&target)
                        .env("CARGO_PROFILE_DEV_DEBUG", "0")
                        .env("CARGO_INCREMENTAL", "0"),
                )
            },
        )?;
    }
    Ok(binary)
}

fn uniffi_bindgen(p: &Paths, language: &str, out: &Path) -> Result<(), String> {
    exec(
        Command::new(p.target.join("debug/uniffi-bindgen"))
            .current_dir(&p.root)
            .args(["generate", "--library"])
            .arg(p.library())
            .args(["--language", language, "--out-dir"])
            .arg(out),
    )
}

fn cargo(p: &Paths) -> Command {
    let mut command = crate::process::cargo();
    command.current_dir(&p.root);
    command
}

fn node_bin(p: &Paths, package_relative: &str) -> PathBuf {
    p.node_modules().join(package_relative)
}

// ---------------------------------------------------------------------------------------------
// Suites

fn pytest(p: &Paths) -> Result<(), String> {
    let venv = p.work.join("venv");
    let python = venv.join("bin/python");
    if !venv.join("bin/pytest").exists() {
        exec(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
        exec(Command::new(&python).args(["-m", "pip", "install", "--quiet", "pytest"]))?;
    }
    let bindings = p.work.join("python");
    uniffi_bindgen(p, "python", &bindings)?;
    copy(&p.library(), &bindings.join(LIB))?;
    exec(
        Command::new(&python)
            .current_dir(&p.root)
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .arg(p.crate_dir.join("tests/python"))
            .env("GATEBELL_MOBILE_PYTHON", &bindings)
            .env("GATEBELL_BIN", p.target.join("debug/gatebell")),
    )
}

/// Type-checks the generated TurboModule TypeScript, the SDK over it, and the README's example
/// (its one ```ts block), which imports the package as an app would.
fn tsc_strict(p: &Paths) -> Result<(), String> {
    let readme = read(&p.crate_dir.join("README.md"))?;
    let example = readme
        .split("```ts\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .ok_or("README.md has no ```ts block")?;
    // The README's integration section is the example's own push code, line for line.
    let example_push = read(&p.example().join("src/push.ts"))?;
    if example_push.trim_end() != example.trim_end() {
        return Err("README.md's ```ts block differs from example/src/push.ts".into());
    }
    // Inside the crate folder, so that imports resolve in its node_modules as in an app.
    let dir = p.generated().join("readme-example");
    write(&dir.join("example.ts"), example)?;
    let rn = p.generated().join("react-native");
    let config = format!(
        r#"{{
  "extends": "{base}",
  "compilerOptions": {{
    "baseUrl": "{crate_dir}",
    "paths": {{ "react-native-gatebell": ["{index}"] }}
  }},
  "files": ["{example}"],
  "include": ["{rn}/src/**/*", "{sdk}/**/*"]
}}
"#,
        base = p.crate_dir.join("tsconfig.json").display(),
        crate_dir = p.crate_dir.display(),
        index = p.crate_dir.join("sdk/index.ts").display(),
        sdk = p.crate_dir.join("sdk").display(),
        example = dir.join("example.ts").display(),
        rn = rn.display(),
    );
    write(&dir.join("tsconfig.json"), &config)?;
    exec(
        Command::new("node")
            .arg(node_bin(p, "typescript/bin/tsc"))
            .arg("--strict")
            .arg("-p")
            .arg(dir.join("tsconfig.json")),
    )
}

/// Generates the N-API bindings (same TypeScript API as the TurboModule), compiles them with
/// the test, and runs the test under Node with the library beside the JavaScript.
fn node_test(p: &Paths, ubrn: &Path) -> Result<(), String> {
    // Inside the crate folder, so that Node's ESM loader finds @ubjs/* in its node_modules.
    let dir = p.generated().join("napi-test");
    if dir.exists() {
        fs::remove_dir_all(&dir).map_err(|e| format!("removing {}: {e}", dir.display()))?;
    }
    exec(
        Command::new(ubrn)
            .current_dir(&p.crate_dir)
            .args([
                "generate",
                "napi",
                "bindings",
                "--library",
                "--no-format",
                "--lib-colocated",
            ])
            .arg("--ts-dir")
            .arg(dir.join("src/generated"))
            .arg(p.library()),
    )?;
    let tests = p.crate_dir.join("tests/node");
    for file in ["bindings.test.ts", "ubjs-node.d.ts"] {
        copy(&tests.join(file), &dir.join("src").join(file))?;
    }
    copy(
        &tests.join("extensionless.mjs"),
        &dir.join("dist/extensionless.mjs"),
    )?;
    // The generated FFI module uses import.meta: ESM.
    write(&dir.join("package.json"), "{ \"type\": \"module\" }\n")?;
    let config = r#"{
  "compilerOptions": {
    "strict": true,
    "target": "ES2022",
    "module": "ES2022",
    "moduleResolution": "bundler",
    "esModuleInterop": true,
    "skipLibCheck": true,
    "types": ["node"],
    "rootDir": "src",
    "outDir": "dist"
  },
  "include": ["src/**/*"]
}
"#;
    write(&dir.join("tsconfig.json"), config)?;
    exec(
        Command::new("node")
            .arg(node_bin(p, "typescript/bin/tsc"))
            .arg("-p")
            .arg(dir.join("tsconfig.json")),
    )?;
    copy(&p.library(), &dir.join("dist/generated").join(LIB))?;
    write(
        &dir.join("dist/register.mjs"),
        "import { register } from \"node:module\";\nregister(\"./extensionless.mjs\", import.meta.url);\n",
    )?;
    exec(Command::new("node").current_dir(&dir).args([
        "--import",
        "./dist/register.mjs",
        "--test",
        "dist/bindings.test.js",
    ]))
}

/// Compiles the TurboModule's C++ (bindings and installer) with JSI's implementation and
/// links it with the Rust library into a shared object that may leave no symbol undefined:
/// every FFI function the C++ calls must exist in the library.
fn cpp_link(p: &Paths) -> Result<(), String> {
    let rn = p.generated().join("react-native/cpp");
    let react_common = p.node_modules().join("react-native/ReactCommon");
    let ubrn_includes = p
        .node_modules()
        .join("uniffi-bindgen-react-native/cpp/includes");
    let out = p.work.join("cpp");
    // react-native 0.88.1's npm package includes <react/cxxstableapi/UmbrellaGuard.h> from
    // CallInvoker.h but does not ship it. It is a preprocessor-only guard, inert unless
    // RN_STRICT_API is defined (see FrameworksGuard.h beside it), so an empty stand-in is exact.
    let stub = out.join("stub-include");
    write(
        &stub.join("react/cxxstableapi/UmbrellaGuard.h"),
        "// Stand-in for the header react-native 0.88.1 does not ship (see xtask/src/mobile.rs).\n",
    )?;
    let sources = [
        rn.join(format!("generated/{NAMESPACE}.cpp")),
        rn.join("react-native-gatebell.cpp"),
        react_common.join("jsi/jsi/jsi.cpp"),
    ];
    let mut objects = Vec::new();
    for source in &sources {
        let object = out.join(format!(
            "{}.o",
            source
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("unit")
        ));
        exec(
            Command::new("g++")
                .args(["-std=c++20", "-fPIC", "-O0", "-w", "-c"])
                .arg(source)
                .arg("-I")
                .arg(&rn)
                .arg("-I")
                .arg(rn.join("generated"))
                .arg("-I")
                .arg(react_common.join("jsi"))
                .arg("-I")
                .arg(react_common.join("callinvoker"))
                .arg("-I")
                .arg(&ubrn_includes)
                .arg("-I")
                .arg(&react_common)
                .arg("-I")
                .arg(&stub)
                .arg("-o")
                .arg(&object),
        )?;
        objects.push(object);
    }
    let library_dir = p
        .library()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    exec(
        Command::new("g++")
            .args([
                "-shared",
                "-Wl,--no-undefined",
                "-Wl,--no-allow-shlib-undefined",
            ])
            .args(&objects)
            .arg("-L")
            .arg(&library_dir)
            .args(["-lgatebell_mobile", "-lpthread", "-ldl"])
            .arg("-o")
            .arg(out.join("libgatebell_turbomodule.so")),
    )?;
    println!(
        "linked {}",
        out.join("libgatebell_turbomodule.so").display()
    );
    Ok(())
}

/// Compiles the generated Kotlin with a small test against JNA from Debian's packages, and
/// runs it on the real library.
fn kotlin(p: &Paths) -> Result<(), String> {
    let jna = ensure_jna(p)?;
    let jar = jna.join("usr/share/java/jna.jar");
    let native = jna.join("usr/lib/x86_64-linux-gnu/jni");
    let kotlinc = node_bin(p, "kotlin-compiler/bin/kotlinc");
    let coroutines = node_bin(p, "kotlin-compiler/lib/kotlinx-coroutines-core-jvm.jar");
    let out = p.work.join("kotlin");
    let classes = out.join("test.jar");
    let sources = p.generated().join("kotlin");
    let mut kotlin_files = Vec::new();
    collect_files(&sources, "kt", &mut kotlin_files);
    kotlin_files.push(p.crate_dir.join("tests/kotlin/BindingsTest.kt"));
    let classpath = format!("{}:{}", jar.display(), coroutines.display());
    exec(
        Command::new("bash")
            .arg(&kotlinc)
            .args(&kotlin_files)
            .args([
                "-nowarn",
                "-classpath",
                &classpath,
                "-include-runtime",
                "-d",
            ])
            .arg(&classes),
    )?;
    let library_dir = p
        .library()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    exec(
        Command::new("java")
            .arg(format!("-Djna.library.path={}", library_dir.display()))
            .arg("-Djna.nosys=false")
            .arg(format!("-Djava.library.path={}", native.display()))
            .arg("-classpath")
            .arg(format!("{}:{classpath}", classes.display()))
            .arg("BindingsTestKt"),
    )
}

/// JNA's jar and native library, from `apt-get download` unpacked into the cache (not
/// installed: nothing on the machine changes).
fn ensure_jna(p: &Paths) -> Result<PathBuf, String> {
    let dir = p.cache.join("jna");
    let unpacked = dir.join("root");
    if unpacked.join("usr/share/java/jna.jar").exists() {
        return Ok(unpacked);
    }
    fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let download = || {
        exec(Command::new("apt-get").current_dir(&dir).args([
            "download",
            "libjna-java",
            "libjna-jni",
        ]))
    };
    if download().is_err() {
        exec(Command::new("apt-get").arg("update"))?;
        download()?;
    }
    let mut debs = Vec::new();
    collect_files(&dir, "deb", &mut debs);
    for deb in debs {
        exec(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&unpacked))?;
    }
    Ok(unpacked)
}

// ---------------------------------------------------------------------------------------------
// The package and the example app

/// What the tarball must hold for an app to build with it (beside the device libraries, which
/// only a machine with the Android NDK or Xcode can build).
const PACKED: &[&str] = &[
    "package/package.json",
    "package/react-native.config.js",
    "package/Gatebell.podspec",
    "package/lib/module/sdk/index.js",
    "package/lib/typescript/sdk/index.d.ts",
    // The SDK's source, which Metro prefers (the `react-native` field).
    "package/sdk/index.ts",
    "package/sdk/push.ts",
    "package/generated/react-native/src/index.tsx",
    "package/generated/react-native/src/NativeGatebell.ts",
    "package/generated/react-native/src/generated/gatebell_mobile.ts",
    "package/generated/react-native/cpp/generated/gatebell_mobile.cpp",
    "package/generated/react-native/cpp/generated/gatebell_mobile.hpp",
    "package/generated/react-native/android/build.gradle",
    "package/generated/react-native/android/CMakeLists.txt",
    "package/generated/react-native/android/cpp-adapter.cpp",
    // UniFFI's own bindings, for native Kotlin and Swift apps.
    "package/generated/kotlin/app/gatebell/mobile/gatebell_mobile.kt",
    "package/generated/swift/GatebellMobile.swift",
    "package/generated/swift/GatebellMobileFFI.h",
];

/// `npm pack` (its prepack compiles lib/ from what generate() just made) into target/mobile/
/// pack/, and checks the tarball's file list.
fn pack(p: &Paths) -> Result<PathBuf, String> {
    let out = p.work.join("pack");
    if out.exists() {
        fs::remove_dir_all(&out).map_err(|e| format!("removing {}: {e}", out.display()))?;
    }
    fs::create_dir_all(&out).map_err(|e| format!("creating {}: {e}", out.display()))?;
    exec(
        Command::new("npm")
            .current_dir(&p.crate_dir)
            .args(["pack", "--pack-destination"])
            .arg(&out)
            .env("GATEBELL_GENERATED", "1"),
    )?;
    let mut tarballs = Vec::new();
    collect_files(&out, "tgz", &mut tarballs);
    let [tarball] = tarballs.as_slice() else {
        return Err(format!("expected one tarball in {}", out.display()));
    };
    let listing = crate::process::output(Command::new("tar").arg("tzf").arg(tarball))?;
    let files: Vec<&str> = listing.lines().collect();
    let missing: Vec<&&str> = PACKED.iter().filter(|f| !files.contains(f)).collect();
    if !missing.is_empty() {
        return Err(format!("the tarball lacks {missing:?}"));
    }
    let has = |prefix: &str, suffix: &str| {
        files
            .iter()
            .any(|f| f.starts_with(prefix) && f.ends_with(suffix))
    };
    if !has("package/generated/react-native/ios/", ".mm") {
        return Err("the tarball has no iOS module (.mm)".into());
    }
    if !has(
        "package/generated/react-native/android/src/main/java/",
        ".kt",
    ) && !has(
        "package/generated/react-native/android/src/main/java/",
        ".java",
    ) {
        return Err("the tarball has no Android module (Kotlin or Java)".into());
    }
    // Nothing of the repository's own: tests, Rust sources, node_modules.
    if let Some(f) = files.iter().find(|f| {
        f.starts_with("package/node_modules/")
            || f.starts_with("package/src/")
            || f.starts_with("package/tests/")
            || f.starts_with("package/example/")
    }) {
        return Err(format!("the tarball holds {f}"));
    }
    println!("{}: {} files", tarball.display(), files.len());
    Ok(tarball.clone())
}

/// The example app, strictly, with react-native-gatebell resolved to the generated source.
fn example_tsc(p: &Paths) -> Result<(), String> {
    exec(
        Command::new("node")
            .current_dir(p.example())
            .arg("node_modules/typescript/bin/tsc")
            .args(["--strict", "-p", "tsconfig.json"]),
    )
}

/// Compiles the SDK (mobile-bindings/sdk/, unchanged but for its bindings module, which
/// re-exports the N-API build instead of the TurboModule) with the example's Node test and the
/// React Native modules' fakes, and runs the test against `gatebell serve` and testkit's fake
/// FCM (`gatebell-fakes`).
fn example_node_test(p: &Paths) -> Result<(), String> {
    let napi = p.generated().join("napi-test");
    let dir = p.generated().join("example-test");
    if dir.exists() {
        fs::remove_dir_all(&dir).map_err(|e| format!("removing {}: {e}", dir.display()))?;
    }
    let src = dir.join("src");
    let tests = p.example().join("tests");
    copy_dir(&napi.join("src/generated"), &src.join("generated"))?;
    copy(
        &p.crate_dir.join("tests/node/ubjs-node.d.ts"),
        &src.join("ubjs-node.d.ts"),
    )?;
    copy_dir(&p.crate_dir.join("sdk"), &src.join("sdk"))?;
    write(
        &src.join("sdk/bindings.ts"),
        "// The N-API build: the TurboModule's TypeScript API, under Node.\nexport * from \"../generated/index\";\n",
    )?;
    copy_dir(&tests.join("fakes"), &src.join("fakes"))?;
    copy(
        &tests.join("notifications.test.ts"),
        &src.join("notifications.test.ts"),
    )?;
    write(&dir.join("package.json"), "{ \"type\": \"module\" }\n")?;
    let config = r#"{
  "compilerOptions": {
    "strict": true,
    "target": "ES2022",
    "module": "ES2022",
    "moduleResolution": "bundler",
    "esModuleInterop": true,
    "skipLibCheck": true,
    "types": ["node"],
    "rootDir": "src",
    "outDir": "dist",
    "paths": {
      "react-native": ["./src/fakes/react-native.ts"],
      "@react-native-firebase/messaging": ["./src/fakes/messaging.ts"],
      "@notifee/react-native": ["./src/fakes/notifee.ts"],
      "react-native-keychain": ["./src/fakes/keychain.ts"],
      "react-native-gatebell": ["./src/sdk/index.ts"]
    }
  },
  "include": ["src/**/*"]
}
"#;
    write(&dir.join("tsconfig.json"), config)?;
    exec(
        Command::new("node")
            .arg(node_bin(p, "typescript/bin/tsc"))
            .arg("-p")
            .arg(dir.join("tsconfig.json")),
    )?;
    copy(&p.library(), &dir.join("dist/generated").join(LIB))?;
    copy(&tests.join("modules.mjs"), &dir.join("dist/modules.mjs"))?;
    write(
        &dir.join("dist/register.mjs"),
        "import { register } from \"node:module\";\nregister(\"./modules.mjs\", import.meta.url);\n",
    )?;
    exec(
        Command::new("node")
            .current_dir(&dir)
            .args([
                "--import",
                "./dist/register.mjs",
                "--test",
                "dist/notifications.test.js",
            ])
            .env("GATEBELL_BIN", p.target.join("debug/gatebell"))
            .env("GATEBELL_FAKES_BIN", p.target.join("debug/gatebell-fakes")),
    )
}

/// `react-native bundle` for both platforms, as a release build would (no network: Metro
/// reads node_modules only), into target/mobile/metro/.
fn metro_bundles(p: &Paths) -> Result<(), String> {
    let out = p.work.join("metro");
    for (platform, bundle) in [
        ("android", "index.android.bundle"),
        ("ios", "main.jsbundle"),
    ] {
        let path = out.join(platform).join(bundle);
        if path.exists() {
            fs::remove_file(&path).map_err(|e| format!("removing {}: {e}", path.display()))?;
        }
        exec(
            Command::new("node")
                .current_dir(p.example())
                .arg("node_modules/@react-native-community/cli/build/bin.js")
                .args(["bundle", "--platform", platform])
                .args(["--dev", "false", "--entry-file", "index.js"])
                .arg("--bundle-output")
                .arg(&path)
                .arg("--assets-dest")
                .arg(out.join(platform).join("assets"))
                .env("GATEBELL_METRO_CACHE", p.cache.join("metro")),
        )?;
        let js = read(&path)?;
        // The generated package's installer call and the SDK over it: they are in the
        // bundle, not stand-ins.
        for needle in [
            "installRustCrate",
            "react-native-gatebell: call configure() first",
        ] {
            if !js.contains(needle) {
                return Err(format!(
                    "{} does not contain react-native-gatebell ({needle})",
                    path.display()
                ));
            }
        }
        println!("{}: {} KiB", path.display(), js.len() / 1024);
    }
    Ok(())
}

/// The example type-checked as a stranger's app would: a new folder that installs the packed
/// tarball and the packages the example uses from npm (the npm cache makes this quick after
/// the first time), with no path mapping into the repository.
fn fresh_install(p: &Paths, tarball: &Path) -> Result<(), String> {
    let dir = p.work.join("fresh-app");
    if dir.exists() {
        fs::remove_dir_all(&dir).map_err(|e| format!("removing {}: {e}", dir.display()))?;
    }
    let example = read(&p.example().join("package.json"))?;
    let version = |name: &str| {
        json_string_field(&example, name).ok_or(format!("no {name} in example/package.json"))
    };
    let mut dependencies = vec![format!(
        "\"react-native-gatebell\": \"file:{}\"",
        tarball.display()
    )];
    for name in [
        "@notifee/react-native",
        "@react-native-firebase/app",
        "@react-native-firebase/messaging",
        "@types/react",
        "react",
        "react-native",
        "react-native-keychain",
        "typescript",
    ] {
        dependencies.push(format!("\"{name}\": \"{}\"", version(name)?));
    }
    write(
        &dir.join("package.json"),
        &format!(
            "{{\n  \"name\": \"fresh-app\",\n  \"private\": true,\n  \"dependencies\": {{\n    {}\n  }}\n}}\n",
            dependencies.join(",\n    ")
        ),
    )?;
    exec(Command::new("npm").current_dir(&dir).args([
        "install",
        "--prefer-offline",
        "--no-audit",
        "--no-fund",
        "--ignore-scripts",
    ]))?;
    for file in ["App.tsx", "index.js", "app.json"] {
        copy(&p.example().join(file), &dir.join(file))?;
    }
    copy_dir(&p.example().join("src"), &dir.join("src"))?;
    let config = r#"{
  "compilerOptions": {
    "strict": true,
    "noEmit": true,
    "target": "ES2022",
    "lib": ["ES2022", "DOM"],
    "module": "ESNext",
    "moduleResolution": "bundler",
    "jsx": "react-native",
    "esModuleInterop": true,
    "resolveJsonModule": true,
    "allowJs": true,
    "skipLibCheck": true,
    "types": ["react-native"]
  },
  "include": ["index.js", "App.tsx", "src/**/*"]
}
"#;
    write(&dir.join("tsconfig.json"), config)?;
    exec(
        Command::new("node")
            .current_dir(&dir)
            .arg("node_modules/typescript/bin/tsc")
            .args(["--strict", "-p", "tsconfig.json"]),
    )
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/// Copies the files under `from` to `to`, keeping the tree.
fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    let entries = fs::read_dir(from).map_err(|e| format!("reading {}: {e}", from.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let target = to.join(entry.file_name());
        if path.is_dir() {
            copy_dir(&path, &target)?;
        } else {
            copy(&path, &target)?;
        }
    }
    Ok(())
}

fn read(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| format!("creating {}: {e}", parent.display()))?;
    }
    fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
}

fn copy(from: &Path, to: &Path) -> Result<(), String> {
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent).map_err(|e| format!("creating {}: {e}", parent.display()))?;
    }
    fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| format!("copying {} to {}: {e}", from.display(), to.display()))
}

/// Files under `dir` (recursively) whose name ends in `.{extension}`, sorted.
fn collect_files(dir: &Path, extension: &str, found: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            collect_files(&path, extension, found);
        } else if path.extension().is_some_and(|e| e == extension) {
            found.push(path);
        }
    }
}

/// The value of a top-level `"field": "value"` in a small JSON file such as package.json.
fn json_string_field(json: &str, field: &str) -> Option<String> {
    let key = format!("\"{field}\"");
    let rest = json[json.find(&key)? + key.len()..].trim_start();
    let rest = rest.strip_prefix(':')?.trim_start().strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_owned())
}
