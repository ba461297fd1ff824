//! [`Secret`]: a configured secret whose `Debug` never shows it.

use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

/// A secret from a flag or the environment (a key, a token, a password, a URL with one in
/// it). Read it with `&*secret` or `as_deref()`; `{:?}` prints `[redacted]`, so a logged or
/// printed configuration carries none.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }
}

impl Deref for Secret {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Secret, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Secret {
        Secret(s.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::super::{Config, ServeArgs};

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    #[test]
    fn debug_of_the_configuration_shows_no_secret() {
        let secrets = [
            ("--database-url", "sqlite://s3cret-db-password@x.db"),
            (
                "--vapid-private-key",
                "s3cret-vapid-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            ),
            (
                "--vapid-previous-private-key",
                "s3cret-previous-vapid-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            ),
            ("--service-key", "s3cret-service-key-0123456789abcdef"),
            ("--code-secret", "s3cret-code-secret-0123456789"),
            ("--metrics-token", "s3cret-metrics-token"),
            (
                "--jwt-hs256-secret",
                "s3cret-jwt-hs256-0123456789abcdefghijklmnop",
            ),
            ("--webhook-secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            ("--sms-auth-token", "s3cret-sms-token"),
            (
                "--smtp-url",
                "smtp://user:s3cret-smtp-password@127.0.0.1:2525",
            ),
        ];
        let mut argv = vec!["gatebell".to_owned()];
        for (flag, value) in secrets {
            argv.extend([flag.to_owned(), value.to_owned()]);
        }
        argv.extend(
            [
                "--jwt-issuer",
                "https://backend.example",
                "--jwt-audience",
                "gatebell",
                "--webhook-url",
                "http://127.0.0.1:9/hooks",
                "--sms-account-sid",
                "AC123",
                "--sms-from",
                "+15550000000",
                "--smtp-from",
                "Gatebell <gate@example.com>",
            ]
            .map(str::to_owned),
        );
        let args = Cli::try_parse_from(&argv).expect("flags parse").serve;
        // Every secret was read: the configuration is complete and valid.
        let config = Config::from_args(args).expect("a valid configuration");
        assert_eq!(
            config.args.sms.auth_token.as_deref(),
            Some("s3cret-sms-token")
        );
        let shown = format!("{config:?} {config:#?}");
        for (flag, value) in secrets {
            assert!(!shown.contains(value), "{flag} shows in {shown}");
        }
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(
            !shown.contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            "{shown}"
        );
        assert!(shown.contains("[redacted]"), "{shown}");
    }
}
