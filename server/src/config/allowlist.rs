//! Which hosts a Web Push subscription may point at. A subscription is a URL the server will
//! call, so an open list would let any user aim the server at internal addresses (SSRF).

use url::{Host, Url};

/// The push services browsers use (TOOLCHAIN.md, "Push facts").
pub const DEFAULT_PUSH_HOSTS: &[&str] = &[
    "fcm.googleapis.com",
    "*.googleapis.com",
    "updates.push.services.mozilla.com",
    "*.mozilla.com",
    "*.mozaws.net",
    "web.push.apple.com",
    "*.push.apple.com",
    "*.notify.windows.com",
];

/// Allowed push-service hosts: exact names, `*.suffix` wildcards, or exact IP literals.
#[derive(Debug, Clone)]
pub struct AllowList {
    entries: Vec<String>,
    allow_http: bool,
}

impl Default for AllowList {
    fn default() -> AllowList {
        AllowList::new(DEFAULT_PUSH_HOSTS.iter().map(|s| s.to_string()), false)
    }
}

impl AllowList {
    /// A list of host patterns; `allow_http` admits plain `http` (tests against local fakes only).
    pub fn new(entries: impl IntoIterator<Item = String>, allow_http: bool) -> AllowList {
        AllowList {
            entries: entries
                .into_iter()
                .map(|e| e.trim().to_ascii_lowercase())
                .filter(|e| !e.is_empty())
                .collect(),
            allow_http,
        }
    }

    /// Accepts the endpoint, or says why not.
    pub fn check(&self, endpoint: &str) -> Result<Url, String> {
        let url = Url::parse(endpoint).map_err(|e| format!("not a URL ({e})"))?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            s => return Err(format!("must be https, not {s}")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry credentials".into());
        }
        let host = url.host().ok_or("has no host")?;
        let allowed = match &host {
            // An IP address is only ever allowed verbatim: a wildcard never admits one, so
            // loopback and private ranges stay out unless an operator lists them.
            Host::Ipv4(ip) => self.entries.iter().any(|e| e == &ip.to_string()),
            Host::Ipv6(ip) => self
                .entries
                .iter()
                .any(|e| e.trim_matches(['[', ']']) == ip.to_string()),
            Host::Domain(name) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                self.entries.iter().any(|e| match e.strip_prefix("*.") {
                    Some(suffix) => {
                        name.len() > suffix.len() + 1
                            && name.ends_with(suffix)
                            && name.as_bytes()[name.len() - suffix.len() - 1] == b'.'
                    }
                    None => *e == name,
                })
            }
        };
        if !allowed {
            return Err(format!("host {host} is not a known push service"));
        }
        // Push services listen on 443; another port on an allowed name is somebody else's
        // service. An IP literal the operator listed verbatim (a local fake) may use any port.
        if matches!(host, Host::Domain(_)) && url.port_or_known_default() != Some(443) {
            return Err("must use port 443".into());
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_list_admits_the_browser_push_services() {
        let l = AllowList::default();
        for ok in [
            "https://fcm.googleapis.com/fcm/send/abc",
            "https://updates.push.services.mozilla.com/wpush/v2/x",
            "https://web.push.apple.com/QG",
            "https://db5p.notify.windows.com/w/?token=1",
        ] {
            assert!(l.check(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn default_list_refuses_private_loopback_unlisted_and_plain_http() {
        let l = AllowList::default();
        for bad in [
            "https://127.0.0.1/push",
            "https://10.0.0.5/push",
            "https://192.168.1.1/push",
            "https://[::1]/push",
            "https://localhost/push",
            "https://evil.example.com/push",
            "https://googleapis.com.evil.example/push",
            "https://xgoogleapis.com/push",
            "http://fcm.googleapis.com/fcm/send/abc",
            "https://user:pw@fcm.googleapis.com/x",
            "ftp://fcm.googleapis.com/x",
            "not a url",
        ] {
            assert!(l.check(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn named_hosts_are_reached_on_port_443_only() {
        let l = AllowList::default();
        assert!(
            l.check("https://fcm.googleapis.com:443/fcm/send/abc")
                .is_ok()
        );
        assert!(
            l.check("https://fcm.googleapis.com:8443/fcm/send/abc")
                .is_err()
        );
        assert!(l.check("https://fcm.googleapis.com:22/x").is_err());
    }

    #[test]
    fn listed_ip_literals_and_http_are_admitted_only_when_asked() {
        let l = AllowList::new(["127.0.0.1".to_string()], true);
        assert!(l.check("http://127.0.0.1:4000/push/x").is_ok());
        assert!(l.check("http://127.0.0.2:4000/push/x").is_err());
        let no_http = AllowList::new(["127.0.0.1".to_string()], false);
        assert!(no_http.check("http://127.0.0.1:4000/push/x").is_err());
    }
}
