//! A byte scanner for the JSON array of an EVENT / ACK: every received event goes through it, and
//! serde_json's `RawValue` walk costs several times more than a plain pass over the bytes.
//!
//! It only ever answers "valid, and here are the items" or "not sure": anything it does not
//! accept (invalid JSON, but also nesting deeper than [`MAX_DEPTH`]) goes back to serde_json,
//! which then gives its own verdict and its own error message. So it must never accept what
//! serde_json rejects; rejecting more is only slower.

/// What one pass over an EVENT / ACK array found.
pub(super) struct Scan<'a> {
    /// The text of the first item (the event name for events).
    pub(super) first: Option<&'a str>,
    /// Number of items.
    pub(super) count: usize,
    /// Byte range of the items after the skipped ones.
    pub(super) items: (usize, usize),
}

/// Nesting the scanner follows itself (it recurses); deeper payloads, which no ordinary event
/// has, are left to serde_json (whose own limit is 128).
const MAX_DEPTH: usize = 64;

/// Scans `payload` as a JSON array (whitespace around it allowed, nothing else), as serde_json
/// would; `None` when it does not accept it, for the caller to ask serde_json.
pub(super) fn scan_array(payload: &str, skip: usize) -> Option<Scan<'_>> {
    let mut c = Cursor {
        b: payload.as_bytes(),
        i: 0,
    };
    let mut scan = Scan {
        first: None,
        count: 0,
        items: (0, 0),
    };
    c.ws();
    c.eat(b'[')?;
    c.ws();
    if c.peek() == Some(b']') {
        c.i += 1;
    } else {
        loop {
            let start = c.i;
            c.value(1)?;
            let end = c.i;
            if scan.count == 0 {
                // Value boundaries are ASCII bytes (quotes, brackets, digits, letters).
                scan.first = payload.get(start..end);
                scan.items = (end, end);
            }
            if scan.count == skip {
                scan.items.0 = start;
            }
            if scan.count >= skip {
                scan.items.1 = end;
            }
            scan.count += 1;
            c.ws();
            match c.next()? {
                b',' => c.ws(),
                b']' => break,
                _ => return None,
            }
        }
    }
    c.ws();
    (c.i == c.b.len()).then_some(scan)
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    fn eat(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }

    /// JSON's whitespace, the four bytes serde_json skips.
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    /// One value starting here (no whitespace before it); `depth` counts the arrays and
    /// objects it is in.
    fn value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => self.string(),
            b'[' => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                self.i += 1;
                self.ws();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    self.value(depth + 1)?;
                    self.ws();
                    match self.next()? {
                        b',' => self.ws(),
                        b']' => return Some(()),
                        _ => return None,
                    }
                }
            }
            b'{' => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                self.i += 1;
                self.ws();
                if self.peek() == Some(b'}') {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    if self.peek()? != b'"' {
                        return None;
                    }
                    self.string()?;
                    self.ws();
                    self.eat(b':')?;
                    self.ws();
                    self.value(depth + 1)?;
                    self.ws();
                    match self.next()? {
                        b',' => self.ws(),
                        b'}' => return Some(()),
                        _ => return None,
                    }
                }
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.i.checked_add(word.len())?;
        (self.b.get(self.i..end)? == word).then(|| self.i = end)
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, what serde_json reads as a number.
    fn number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.next()? {
            // A leading zero is alone: serde_json refuses `01`.
            b'0' => {
                if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    return None;
                }
            }
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            self.some_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            self.some_digits()?;
        }
        Some(())
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
    }

    fn some_digits(&mut self) -> Option<()> {
        let start = self.i;
        self.digits();
        (self.i > start).then_some(())
    }

    /// A string from its opening quote: no control character, only JSON's escapes (serde_json
    /// checks that `\u` has four hex digits, not what they make).
    fn string(&mut self) -> Option<()> {
        self.i += 1;
        loop {
            // Plain runs are skipped a word at a time; only the byte ending one is looked at.
            self.i = find_json_special(self.b, self.i)?;
            match self.next()? {
                b'"' => return Some(()),
                b'\\' => match self.next()? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                    b'u' => {
                        for _ in 0..4 {
                            if !self.next()?.is_ascii_hexdigit() {
                                return None;
                            }
                        }
                    }
                    _ => return None,
                },
                0..=0x1f => return None,
                _ => {}
            }
        }
    }
}

// Word-at-a-time search for the end of a plain run in a string: eight bytes per step where a
// byte loop costs several instructions per byte. Safe code only; the tail is searched bytewise.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Whether some byte of `w` is below `n` (`n` ≤ 0x80). Exact as to whether one exists, which is
/// all the callers ask.
#[inline]
fn has_less(w: u64, n: u8) -> bool {
    w.wrapping_sub(ONES * u64::from(n)) & !w & HIGH != 0
}

/// Whether some byte of `w` is zero.
#[inline]
fn has_zero(w: u64) -> bool {
    has_less(w, 1)
}

/// The eight bytes of `b` from `i`, if there are eight.
#[inline]
fn word(b: &[u8], i: usize) -> Option<u64> {
    let chunk: [u8; 8] = b.get(i..i.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_le_bytes(chunk))
}

/// The index of the first byte at or after `from` that ends a plain run inside a JSON string:
/// a quote, a backslash or a control character.
fn find_json_special(b: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(w) = word(b, i) {
        if has_zero(w ^ (ONES * u64::from(b'"')))
            || has_zero(w ^ (ONES * u64::from(b'\\')))
            || has_less(w, 0x20)
        {
            break;
        }
        i += 8;
    }
    let p = b
        .get(i..)?
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
    Some(i + p)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scanner agrees with serde_json wherever it answers: the same verdict, count, first
    /// item and item range as the serde_json scan the parser falls back to.
    fn agrees(payload: &str) {
        for skip in [0, 1] {
            let serde = super::super::json::scan_array_serde(payload, skip);
            match (scan_array(payload, skip), serde) {
                (Some(scan), Ok(by_serde)) => {
                    assert_eq!(scan.count, by_serde.count, "{payload}");
                    assert_eq!(scan.first, by_serde.first, "{payload}");
                    assert_eq!(scan.items, by_serde.items, "{payload}");
                }
                (Some(_), Err(e)) => panic!("accepted {payload:?}, serde_json says {e}"),
                (None, _) => {}
            }
        }
    }

    #[test]
    fn accepts_what_serde_accepts() {
        for p in [
            "[]",
            " [ ] ",
            r#"["echo","x"]"#,
            r#" [ "a" , 1 , -0.5e+3 , true , false , null , {"k" : [1, {}]} , [] ] "#,
            r#"["\"\\\/\b\f\n\r\t\u00e9\uD83D"]"#,
            r#"[0, -0, 1.25, 2E5, 3e-2]"#,
            "[\"é ✓\"]",
        ] {
            assert!(scan_array(p, 0).is_some(), "{p}");
            agrees(p);
        }
        let scan = scan_array(r#"["ev", 1, "two" ]"#, 1).map(|s| (s.count, s.items));
        assert_eq!(scan, Some((3, (7, 15))));
    }

    #[test]
    fn never_accepts_what_serde_refuses() {
        for p in [
            "",
            "[",
            "]",
            "[1,]",
            "[,1]",
            "[1 2]",
            "[01]",
            "[-]",
            "[1.]",
            "[1e]",
            "[.5]",
            "[+1]",
            "[tru]",
            "[nul]",
            "[\"a]",
            "[\"\\x\"]",
            "[\"\\u12g4\"]",
            "[\"\u{1}\"]",
            "[{1:2}]",
            "[{\"a\"}]",
            "[{\"a\":1,}]",
            "[1] x",
            "{}",
            "[1]]",
            "[[1]",
            "[NaN]",
            "[\"\\u12\"]",
        ] {
            assert!(scan_array(p, 0).is_none(), "{p:?}");
            agrees(p);
        }
    }

    #[test]
    fn deep_nesting_is_left_to_serde() {
        let deep = format!("[{}{}]", "[".repeat(100), "]".repeat(100));
        assert!(scan_array(&deep, 0).is_none());
        let shallow = format!("[{}{}]", "[".repeat(10), "]".repeat(10));
        assert!(scan_array(&shallow, 0).is_some());
    }

    #[test]
    fn word_search_finds_what_a_byte_loop_finds() {
        let mut text: Vec<u8> = (0u8..=255).collect();
        text.extend_from_slice(b"plain text, then & and \" and \\ and \x1f end");
        for from in 0..text.len() + 2 {
            let slow = text
                .get(from..)
                .and_then(|t| t.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20))
                .map(|p| from + p);
            assert_eq!(find_json_special(&text, from), slow, "{from}");
        }
        assert_eq!(find_json_special(&[b'a'; 40], 3), None);
    }

    proptest::proptest! {
        /// Random text over JSON's own characters: wherever the scanner answers, serde_json
        /// agrees, and it answers for every well-formed array it is given.
        #[test]
        fn agrees_with_serde_on_random_text(s in "[\\[\\]{}\",:0-9eE.+\\-tfrulnsa \\\\/bu\u{1}é]{0,40}") {
            agrees(&s);
        }

        #[test]
        fn answers_for_serialized_values(v in proptest::collection::vec(json_value(), 0..4)) {
            let text = serde_json::to_string(&serde_json::Value::Array(v)).unwrap();
            proptest::prop_assert!(scan_array(&text, 0).is_some(), "{}", text);
            agrees(&text);
        }
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(serde_json::Value::from),
            "\\PC{0,12}".prop_map(serde_json::Value::String),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
                proptest::collection::btree_map("\\PC{0,6}", inner, 0..4)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
