//! Journey links at rest. A link's token is derived from the session id under a key
//! kept outside the database, so the store holds only the token's hash and the link
//! is made again whenever a notification needs it; and a text that has left the outbox
//! keeps no live token.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The bytes of a token: 144 bits, 24 characters of URL-safe base64.
const TOKEN_BYTES: usize = 18;

/// What a redacted token reads as.
pub const REDACTED: &str = "[redacted]";

/// The journey-link token of `session_id` under `key`: an HMAC, so nobody without the
/// key can make or guess one, and the same session always has the same one.
pub fn token(key: &[u8], session_id: &str) -> String {
    use base64::Engine as _;
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(b"journey-link\0");
    mac.update(session_id.as_bytes());
    let digest = mac.finalize().into_bytes();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..TOKEN_BYTES])
}

/// `body` with the token of every journey link (`/j/TOKEN`) replaced by `REDACTED`.
pub fn redact(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(at) = rest.find("/j/") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        let len = after
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
            .count();
        // Shorter runs are not tokens (`/j/` in ordinary text).
        if len >= 16 {
            out.push_str(REDACTED);
            rest = &after[len..];
        } else {
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_keyed_stable_and_redacted_from_texts() {
        let (a, b) = (token(b"key one", "s1"), token(b"key two", "s1"));
        assert_eq!(a.len(), 24);
        assert_ne!(a, b, "another key, another token");
        assert_eq!(
            a,
            token(b"key one", "s1"),
            "the same session, the same token"
        );
        assert_ne!(a, token(b"key one", "s2"));
        let text = format!("Continue: https://x.example/j/{a}?continue and /j/short, /j/{b}");
        assert_eq!(
            redact(&text),
            "Continue: https://x.example/j/[redacted]?continue and /j/short, /j/[redacted]"
        );
        assert_eq!(redact("no link"), "no link");
        assert_eq!(redact("ends /j/"), "ends /j/");
    }
}
