//! Seed 003's rate limits: fixed windows per route class, counted per client (and, for login
//! and forgot-password, per account too).

/// A limit of `limit` requests per `window_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub limit: u32,
    pub window_secs: u32,
}

/// Seed 003's table: login 5/min, register 3/5 min, forgot-password 3/15 min, refresh 10/min,
/// every other auth route 20/min. `route` is the path after `/api/auth/`.
pub fn client_rule(route: &str) -> (&'static str, Rule) {
    match route {
        "login" => (
            "login",
            Rule {
                limit: 5,
                window_secs: 60,
            },
        ),
        "register" => (
            "register",
            Rule {
                limit: 3,
                window_secs: 300,
            },
        ),
        "forgot-password" => (
            "forgot-password",
            Rule {
                limit: 3,
                window_secs: 900,
            },
        ),
        "refresh" => (
            "refresh",
            Rule {
                limit: 10,
                window_secs: 60,
            },
        ),
        _ => (
            "auth",
            Rule {
                limit: 20,
                window_secs: 60,
            },
        ),
    }
}

/// Per-account limits, so many clients cannot gang up on one account. Login allows more than
/// the lockout threshold (5 failures), so lockout, not the limit, answers a guessing attack.
pub fn account_rule(route: &str) -> Option<Rule> {
    match route {
        "login" => Some(Rule {
            limit: 10,
            window_secs: 60,
        }),
        // Each mails a code: no flooding an inbox, whichever name the account is asked by.
        "forgot-password" | "resend-confirmation" => Some(Rule {
            limit: 3,
            window_secs: 900,
        }),
        _ => None,
    }
}

/// Per-user limits on the run routes (canonical and seed), so one account cannot flood D1 and
/// R2: 20 new runs an hour, 60 uploads a minute (a participant uploads once a round).
pub fn user_rule(class: &str) -> Option<Rule> {
    match class {
        "run-create" => Some(Rule {
            limit: 20,
            window_secs: 3600,
        }),
        "upload" => Some(Rule {
            limit: 60,
            window_secs: 60,
        }),
        _ => None,
    }
}

/// Wrong second-factor codes (TOTP or backup) an account may send per window, counted across
/// sign-in sessions, clients and routes: beyond it every code, right or wrong, is refused until
/// the window ends. 5 per 15 minutes leaves a guesser about 1 in 2,000 a day.
pub const MFA_FAILURES: u32 = 5;

/// The rule for an account's wrong second-factor codes over `lockout_secs`.
pub fn mfa_failure_rule(lockout_secs: i64) -> Rule {
    Rule {
        limit: MFA_FAILURES,
        window_secs: u32::try_from(lockout_secs).unwrap_or(900).max(1),
    }
}

/// The start of the window containing `now_secs`.
pub fn window_start(rule: Rule, now_secs: i64) -> i64 {
    now_secs - now_secs.rem_euclid(i64::from(rule.window_secs))
}

/// The outcome for the `count`-th request of the window starting at `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Unix seconds when the window ends (`X-RateLimit-Reset`).
    pub reset: i64,
    /// Seconds to wait (`Retry-After`) when refused.
    pub retry_after: i64,
}

pub fn decide(rule: Rule, start: i64, count: u32, now_secs: i64) -> Decision {
    let reset = start + i64::from(rule.window_secs);
    Decision {
        allowed: count <= rule.limit,
        limit: rule.limit,
        remaining: rule.limit.saturating_sub(count),
        reset,
        retry_after: (reset - now_secs).max(1),
    }
}

/// The key a client's limits are counted under: an IPv4 address as it is, an IPv6 address by
/// its /64 (one subscriber's prefix: a host picks any of its 2^64 addresses at will), anything
/// else as given, at most 64 characters.
pub fn client_key(address: &str) -> String {
    let address = address.trim();
    match address.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Ok(std::net::IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => address.chars().take(64).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_mfa_codes_lock_after_five_in_the_lockout_window() {
        let rule = mfa_failure_rule(900);
        assert_eq!((rule.limit, rule.window_secs), (5, 900));
        let fourth = decide(rule, 0, 4, 10);
        assert_eq!((fourth.allowed, fourth.remaining), (true, 1));
        let fifth = decide(rule, 0, 5, 10);
        assert_eq!(
            (fifth.remaining, fifth.reset, fifth.retry_after),
            (0, 900, 890)
        );
        assert_eq!(mfa_failure_rule(3).window_secs, 3);
        assert_eq!(
            mfa_failure_rule(-1).window_secs,
            900,
            "a nonsense setting: the default"
        );
    }

    #[test]
    fn seed_003_table() {
        assert_eq!(
            client_rule("login").1,
            Rule {
                limit: 5,
                window_secs: 60
            }
        );
        assert_eq!(
            client_rule("register").1,
            Rule {
                limit: 3,
                window_secs: 300
            }
        );
        assert_eq!(
            client_rule("forgot-password").1,
            Rule {
                limit: 3,
                window_secs: 900
            }
        );
        assert_eq!(
            client_rule("refresh").1,
            Rule {
                limit: 10,
                window_secs: 60
            }
        );
        assert_eq!(
            client_rule("me").1,
            Rule {
                limit: 20,
                window_secs: 60
            }
        );
        assert!(
            account_rule("login").unwrap().limit > 5,
            "above the lockout threshold"
        );
        assert!(account_rule("me").is_none());
        assert_eq!(user_rule("run-create").map(|r| r.limit), Some(20));
        assert_eq!(user_rule("upload").map(|r| r.window_secs), Some(60));
        assert!(user_rule("download").is_none());
    }

    #[test]
    fn fixed_windows_and_decisions() {
        let rule = Rule {
            limit: 5,
            window_secs: 60,
        };
        assert_eq!(window_start(rule, 1_640_995_259), 1_640_995_200);
        let first = decide(rule, 1_640_995_200, 1, 1_640_995_210);
        assert_eq!(
            (first.allowed, first.remaining, first.reset),
            (true, 4, 1_640_995_260)
        );
        let fifth = decide(rule, 1_640_995_200, 5, 1_640_995_210);
        assert_eq!((fifth.allowed, fifth.remaining), (true, 0));
        let sixth = decide(rule, 1_640_995_200, 6, 1_640_995_210);
        assert_eq!(
            (sixth.allowed, sixth.remaining, sixth.retry_after),
            (false, 0, 50)
        );
        assert_eq!(decide(rule, 0, 6, 60).retry_after, 1, "never zero");
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64_prefix() {
        let a = client_key("2001:db8:1:2:aaaa::1");
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_eq!(client_key("2001:0db8:0001:0002:ffff:ffff:ffff:ffff"), a);
        assert_ne!(client_key("2001:db8:1:3::1"), a);
        assert_eq!(client_key(" 203.0.113.7 "), "203.0.113.7");
        assert_ne!(client_key("203.0.113.8"), client_key("203.0.113.7"));
        assert_eq!(client_key(&"x".repeat(100)).len(), 64);
    }
}
