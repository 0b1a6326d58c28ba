//! Detach keys of `rstack attach` (Docker's `--detach-keys`, default `ctrl-p,ctrl-q`): their
//! parsing as Docker's `term.ToBytes` does, and a filter on the client's input that holds
//! back a partial sequence and reports a complete one instead of sending it.

/// Docker's default detach sequence.
pub const DEFAULT_KEYS: &str = "ctrl-p,ctrl-q";

/// The bytes of a detach-keys spec: comma-separated keys, each a single character or
/// `ctrl-X` (X one of a-z, @, [, \, ], ^, _).
pub fn parse(spec: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for key in spec.split(',').map(str::trim) {
        let lower = key.to_ascii_lowercase();
        if key.len() == 1 && key.is_ascii() {
            out.push(key.as_bytes()[0]);
        } else if let Some(c) = lower.strip_prefix("ctrl-").filter(|c| c.len() == 1) {
            let c = c.as_bytes()[0];
            out.push(match c {
                b'a'..=b'z' => c - b'a' + 1,
                b'@' => 0,
                b'[' => 27,
                b'\\' => 28,
                b']' => 29,
                b'^' => 30,
                b'_' => 31,
                _ => return Err(format!("unknown character {:?} in {key:?}", c as char)),
            });
        } else {
            return Err(format!(
                "invalid detach key {key:?}: use a single character or ctrl-<value> (a-z, @, [, \\, ], ^, _), comma-separated"
            ));
        }
    }
    Ok(out)
}

/// Watches the input for the detach sequence.
pub struct Detach {
    keys: Vec<u8>,
    /// How many bytes of `keys` the input has matched so far (held back, not sent yet).
    matched: usize,
}

impl Detach {
    /// `keys` empty: never detaches.
    pub fn new(keys: Vec<u8>) -> Detach {
        Detach { keys, matched: 0 }
    }

    /// The bytes of `data` to send on, and whether the sequence is now complete (the rest
    /// of `data` is then dropped, as the client leaves).
    pub fn feed(&mut self, data: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(data.len());
        for &b in data {
            if self.keys.is_empty() {
                out.push(b);
                continue;
            }
            if b != self.keys[self.matched] && self.matched > 0 {
                // Not the sequence after all: what was held back is input.
                out.extend_from_slice(&self.keys[..self.matched]);
                self.matched = 0;
            }
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return (out, true);
                }
            } else {
                out.push(b);
            }
        }
        (out, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_as_docker_does() {
        assert_eq!(parse(DEFAULT_KEYS).unwrap(), [16, 17]);
        assert_eq!(
            parse("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_").unwrap(),
            [0, 27, 28, 29, 30, 31]
        );
        assert_eq!(parse("x,CTRL-A").unwrap(), [b'x', 1]);
        assert!(parse("ctrl-1").is_err());
        assert!(parse("alt-p").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn the_sequence_detaches_and_anything_else_passes() {
        let mut d = Detach::new(vec![16, 17]);
        assert_eq!(d.feed(b"ls\n"), (b"ls\n".to_vec(), false));
        // Held back across reads until it is known not to be the sequence.
        assert_eq!(d.feed(b"a\x10"), (b"a".to_vec(), false));
        assert_eq!(d.feed(b"b"), (b"\x10b".to_vec(), false));
        // A repeated first key: the earlier one is input, the later one may start it.
        assert_eq!(d.feed(b"\x10\x10\x11rest"), (b"\x10".to_vec(), true));
        let mut never = Detach::new(Vec::new());
        assert_eq!(never.feed(b"\x10\x11"), (b"\x10\x11".to_vec(), false));
    }
}
