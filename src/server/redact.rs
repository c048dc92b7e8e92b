//! Secrets kept out of what the server prints: `ikp config check`, start-up errors and logs name
//! database URLs and the like, and operators paste those into tickets and chats.

/// What stands in for a hidden value.
pub const MASK: &str = "*****";

/// Query parameters that carry a secret (libpq's and sqlx's `password`, `sslpassword`, and
/// anything an operator might name a secret or a token).
const SECRET_PARAMETER_WORDS: &[&str] = &["password", "secret", "token", "passphrase"];

/// Whether an option's value is a secret as a whole, by its name (`oidc-client-secret`).
pub fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["secret", "password", "passphrase", "private-key", "private_key"].iter().any(|word| name.contains(word))
}

/// `value` with the password of a URL (`postgres://user:password@host/db`) and the values of
/// secret-looking query parameters (`?password=...`) masked; anything else as given.
pub fn mask_url(value: &str) -> String {
    let Some(scheme_end) = value.find("://") else { return value.to_string() };
    let authority_start = scheme_end + 3;
    let rest = &value[authority_start..];
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_len];
    let mut masked = value[..authority_start].to_string();
    // The userinfo ends at the last '@' of the authority (a password may itself hold an '@').
    match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            match userinfo.split_once(':') {
                Some((user, _password)) => {
                    masked.push_str(user);
                    masked.push(':');
                    masked.push_str(MASK);
                }
                None => masked.push_str(userinfo),
            }
            masked.push_str(&authority[at..]);
        }
        None => masked.push_str(authority),
    }
    let tail = &rest[authority_len..];
    let (path, query_and_fragment) = match tail.find('?') {
        Some(q) => (&tail[..q], Some(&tail[q + 1..])),
        None => (tail, None),
    };
    masked.push_str(path);
    if let Some(query_and_fragment) = query_and_fragment {
        let (query, fragment) = match query_and_fragment.split_once('#') {
            Some((query, fragment)) => (query, Some(fragment)),
            None => (query_and_fragment, None),
        };
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) if is_secret_parameter(name) => format!("{name}={MASK}"),
                _ => pair.to_string(),
            })
            .collect();
        masked.push('?');
        masked.push_str(&pairs.join("&"));
        if let Some(fragment) = fragment {
            masked.push('#');
            masked.push_str(fragment);
        }
    }
    masked
}

fn is_secret_parameter(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_PARAMETER_WORDS.iter().any(|word| name.contains(word))
}

/// The value of the option `name` as it may be shown: all of it masked when the option is a
/// secret, else with any URL's password masked.
pub fn shown(name: &str, value: &str) -> String {
    if is_secret_name(name) { MASK.to_string() } else { mask_url(value) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_masked() {
        assert_eq!(mask_url("postgres://ikp:s3cr%40t@db:5432/ikp"), "postgres://ikp:*****@db:5432/ikp");
        // A raw '@' inside the password: the last '@' of the authority ends the userinfo.
        assert_eq!(
            mask_url("postgres://ikp:p@ss@db/ikp?sslmode=require"),
            "postgres://ikp:*****@db/ikp?sslmode=require"
        );
        assert_eq!(
            mask_url("postgres://db/ikp?user=ikp&password=hunter2&sslpassword=x#f"),
            "postgres://db/ikp?user=ikp&password=*****&sslpassword=*****#f"
        );
        assert_eq!(mask_url("postgres://ikp@db/ikp"), "postgres://ikp@db/ikp");
        assert_eq!(mask_url("sqlite://./ikp-data/ikp.db"), "sqlite://./ikp-data/ikp.db");
        assert_eq!(mask_url("127.0.0.1:8080"), "127.0.0.1:8080");
        // An '@' in the path is not a userinfo.
        assert_eq!(mask_url("https://idp.example/a@b"), "https://idp.example/a@b");
    }

    #[test]
    fn secret_options_are_masked_whole() {
        assert_eq!(shown("oidc-client-secret", "abc"), MASK);
        assert_eq!(shown("database-url", "postgres://u:p@h/d"), "postgres://u:*****@h/d");
        assert_eq!(shown("tls-key", "/etc/ikp/key.pem"), "/etc/ikp/key.pem");
    }
}
