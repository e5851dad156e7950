//! Twilio's wire formats on our side: checking a webhook's `X-Twilio-Signature`, and
//! answering in TwiML. Pure functions, for the webhook routes.

use base64::Engine as _;
use hmac::{KeyInit, Mac};

type HmacSha1 = hmac::Hmac<sha1::Sha1>;

/// The signature Twilio computes for a form POST to `url` with `params`: HMAC-SHA1,
/// keyed with the auth token, of the URL followed by each parameter's name and value
/// in byte order of the names (and of the values, for a repeated name), in base64.
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(mac(auth_token, url, params).finalize().into_bytes())
}

fn mac(auth_token: &str, url: &str, params: &[(String, String)]) -> HmacSha1 {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac = HmacSha1::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac
}

/// The URL as Twilio may have signed it: as given, and with the scheme's default port
/// added or removed.
fn url_variants(url: &str) -> Vec<String> {
    let mut out = vec![url.to_string()];
    for (scheme, port) in [("https://", ":443"), ("http://", ":80")] {
        let Some(rest) = url.strip_prefix(scheme) else {
            continue;
        };
        let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if let Some(bare) = host.strip_suffix(port) {
            out.push(format!("{scheme}{bare}{path}"));
        } else if !host.contains(':') {
            out.push(format!("{scheme}{host}{port}{path}"));
        }
    }
    out
}

/// Whether `given` is Twilio's signature of this request, for any form of the URL.
/// The comparison takes the same time wherever the first difference is.
pub fn valid_signature(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    given: &str,
) -> bool {
    let Ok(given) = base64::engine::general_purpose::STANDARD.decode(given.trim()) else {
        return false;
    };
    url_variants(url)
        .iter()
        .any(|u| mac(auth_token, u, params).verify_slice(&given).is_ok())
}

/// Escapes text for XML element content and attribute values.
fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // maud's escaper writes `&amp;`, `&lt;`, `&gt;` and `&quot;`, which XML accepts.
    let _ = std::fmt::Write::write_str(&mut maud::Escaper::new(&mut out), text);
    out
}

const XML_HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

/// TwiML for an SMS webhook: an empty answer, or one reply.
pub fn message_twiml(reply: Option<&str>) -> String {
    match reply {
        None => format!("{XML_HEAD}<Response/>"),
        Some(text) => format!(
            "{XML_HEAD}<Response><Message>{}</Message></Response>",
            xml_escape(text)
        ),
    }
}

/// TwiML for a voice webhook: say each text, then hang up.
pub fn voice_twiml(say: &[String]) -> String {
    let mut out = format!("{XML_HEAD}<Response>");
    for text in say {
        out.push_str("<Say>");
        out.push_str(&xml_escape(text));
        out.push_str("</Say>");
    }
    out.push_str("<Hangup/></Response>");
    out
}

/// Whether a refused request to send a message may work later: Twilio is busy (HTTP
/// 429 or 5xx, error 20429) or the sender's queue is full (21611). Any other refusal,
/// such as an invalid or opted-out number (21211, 21610), is final.
pub fn worth_retrying(status: u16, code: Option<u64>) -> bool {
    status == 429 || (500..600).contains(&status) || matches!(code, Some(20429 | 21611))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(caller: &str) -> Vec<(String, String)> {
        [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", caller),
            ("Digits", "1234"),
            ("From", caller),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";

    #[test]
    fn twilio_documented_test_vectors() {
        assert_eq!(
            signature("12345", URL, &params("+12349013030")),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
        assert_eq!(
            signature("12345", URL, &params("+14158675309")),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        );
        assert!(valid_signature(
            "12345",
            URL,
            &params("+12349013030"),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
    }

    #[test]
    fn a_wrong_token_url_parameter_or_signature_is_refused() {
        let sig = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";
        assert!(!valid_signature("12346", URL, &params("+12349013030"), sig));
        assert!(!valid_signature(
            "12345",
            "https://mycompany.com/myapp.php?foo=1&bar=3",
            &params("+12349013030"),
            sig
        ));
        assert!(!valid_signature("12345", URL, &params("+12349013031"), sig));
        assert!(!valid_signature("12345", URL, &params("+12349013030"), ""));
        assert!(!valid_signature(
            "12345",
            URL,
            &params("+12349013030"),
            "not base64!"
        ));
    }

    #[test]
    fn the_default_port_may_be_present_or_not() {
        let p = params("+12349013030");
        let with_port = signature(
            "12345",
            "https://mycompany.com:443/myapp.php?foo=1&bar=2",
            &p,
        );
        assert!(valid_signature("12345", URL, &p, &with_port));
        let without = signature("12345", URL, &p);
        assert!(valid_signature(
            "12345",
            "https://mycompany.com:443/myapp.php?foo=1&bar=2",
            &p,
            &without
        ));
        let other_port = signature(
            "12345",
            "https://mycompany.com:8443/myapp.php?foo=1&bar=2",
            &p,
        );
        assert!(!valid_signature("12345", URL, &p, &other_port));
    }

    #[test]
    fn twiml_is_escaped() {
        assert_eq!(
            message_twiml(None),
            r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#
        );
        assert_eq!(
            message_twiml(Some("a < b & \"c\"")),
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Message>a &lt; b &amp; &quot;c&quot;</Message></Response>"#
        );
        assert_eq!(
            voice_twiml(&["Hi </Say>".into()]),
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Say>Hi &lt;/Say&gt;</Say><Hangup/></Response>"#
        );
    }

    #[test]
    fn which_refusals_are_worth_retrying() {
        for code in [21211, 21610, 21614, 21612, 21408, 21212, 21606] {
            assert!(!worth_retrying(400, Some(code)), "{code}");
        }
        assert!(!worth_retrying(401, None));
        for (status, code) in [
            (400, Some(20429)),
            (400, Some(21611)),
            (429, None),
            (503, None),
        ] {
            assert!(worth_retrying(status, code), "{status} {code:?}");
        }
    }
}
