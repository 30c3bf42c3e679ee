//! Byte-level writers shared by the formats: integers, floats, exact decimals, JSON strings, base64 and hex.
//!
//! Everything appends to a `Vec<u8>` the caller reuses, and nothing allocates.

use sluice_data::Decimal;

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Appends the decimal text of an integer.
pub(crate) fn write_int<I: itoa::Integer>(out: &mut Vec<u8>, n: I) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Appends the shortest text that reads back as the same float (`0.5`, `1e20`, `-0.0`); `false` for NaN and the
/// infinities, which are left to the caller.
pub(crate) fn write_finite_float<F: ryu::Float + FloatClass>(out: &mut Vec<u8>, f: F) -> bool {
    if !f.finite() {
        return false;
    }
    out.extend_from_slice(ryu::Buffer::new().format_finite(f).as_bytes());
    true
}

/// Whether a float is finite, for both widths.
pub(crate) trait FloatClass: Copy {
    /// Neither NaN nor infinite.
    fn finite(self) -> bool;
}

impl FloatClass for f32 {
    fn finite(self) -> bool {
        self.is_finite()
    }
}

impl FloatClass for f64 {
    fn finite(self) -> bool {
        self.is_finite()
    }
}

/// Appends the exact value of `d`; with `trim`, trailing fractional zeros are dropped (`10.50` → `10.5`,
/// `10000.00` → `10000`), as [`Decimal::write_trimmed`] does, else all `scale` digits are kept (`10.50`).
pub(crate) fn write_decimal(out: &mut Vec<u8>, d: &Decimal, trim: bool) {
    let mut scale = usize::from(d.scale());
    let mut digits_buf = itoa::Buffer::new();
    let mantissa = d.mantissa().unsigned_abs();
    let digits = match u64::try_from(mantissa) {
        // Most decimals fit in 64 bits, where division is much cheaper than in 128.
        Ok(mut small) => {
            while trim && scale > 0 && small.is_multiple_of(10) {
                small /= 10;
                scale -= 1;
            }
            digits_buf.format(small)
        }
        Err(_) => {
            let mut big = mantissa;
            while trim && scale > 0 && big.is_multiple_of(10) {
                big /= 10;
                scale -= 1;
            }
            digits_buf.format(big)
        }
    }
    .as_bytes();
    if d.mantissa() < 0 {
        out.push(b'-');
    }
    if scale == 0 {
        out.extend_from_slice(digits);
    } else if digits.len() > scale {
        let (int, frac) = digits.split_at(digits.len() - scale);
        out.extend_from_slice(int);
        out.push(b'.');
        out.extend_from_slice(frac);
    } else {
        out.extend_from_slice(b"0.");
        out.resize(out.len() + scale - digits.len(), b'0');
        out.extend_from_slice(digits);
    }
}

/// For each byte: 0 when it stands for itself in a JSON string, else the letter after the backslash (`u` for the
/// `\u00XX` form).
static JSON_ESCAPES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b'u';
        b += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

/// Appends `s` as a JSON string: quoted, with `"`, `\` and control characters escaped.
pub(crate) fn write_json_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut run_start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape = JSON_ESCAPES[usize::from(b)];
        if escape == 0 {
            continue;
        }
        out.extend_from_slice(&bytes[run_start..i]);
        if escape == b'u' {
            out.extend_from_slice(b"\\u00");
            out.push(HEX_DIGITS[usize::from(b >> 4)]);
            out.push(HEX_DIGITS[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(&[b'\\', escape]);
        }
        run_start = i + 1;
    }
    out.extend_from_slice(&bytes[run_start..]);
    out.push(b'"');
}

/// Appends the standard base64 form of `bytes`, with `=` padding (what Kafka Connect's JsonConverter reads).
pub(crate) fn write_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut chunks = bytes.chunks_exact(3);
    for c in &mut chunks {
        let n = u32::from(c[0]) << 16 | u32::from(c[1]) << 8 | u32::from(c[2]);
        for shift in [18, 12, 6, 0] {
            out.push(ALPHABET[(n >> shift & 0x3f) as usize]);
        }
    }
    match *chunks.remainder() {
        [a] => {
            let n = u32::from(a) << 16;
            out.extend_from_slice(&[
                ALPHABET[(n >> 18) as usize],
                ALPHABET[(n >> 12 & 0x3f) as usize],
            ]);
            out.extend_from_slice(b"==");
        }
        [a, b] => {
            let n = u32::from(a) << 16 | u32::from(b) << 8;
            for shift in [18, 12, 6] {
                out.push(ALPHABET[(n >> shift & 0x3f) as usize]);
            }
            out.push(b'=');
        }
        _ => {}
    }
}

/// Appends `bytes` as lowercase hex, two digits per byte.
pub(crate) fn write_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    for &b in bytes {
        out.extend_from_slice(&[
            HEX_DIGITS[usize::from(b >> 4)],
            HEX_DIGITS[usize::from(b & 0xf)],
        ]);
    }
}

/// What `f` appends to an empty buffer, as text: the tests' way to look at a writer's output.
#[cfg(test)]
pub(crate) fn written(f: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut out = Vec::new();
    f(&mut out);
    String::from_utf8(out).unwrap()
}

#[cfg(test)]
mod tests {
    use super::written as text;
    use super::*;
    use proptest::prelude::*;

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn decimals_trimmed_and_untrimmed() {
        let trimmed = |s: &str| text(|o| write_decimal(o, &dec(s), true));
        let full = |s: &str| text(|o| write_decimal(o, &dec(s), false));
        assert_eq!(trimmed("10.50"), "10.5");
        assert_eq!(trimmed("10000.00"), "10000");
        assert_eq!(trimmed("0.00"), "0");
        assert_eq!(trimmed("-0.050"), "-0.05");
        assert_eq!(full("10.50"), "10.50");
        assert_eq!(full("-0.05"), "-0.05");
        assert_eq!(full("0.001"), "0.001");
        let big = "-1234567890123456789012345678.9012345670";
        assert_eq!(trimmed(big), "-1234567890123456789012345678.901234567");
        assert_eq!(full(big), big);
    }

    #[test]
    fn floats_are_shortest_round_trip_and_non_finite_is_refused() {
        assert_eq!(text(|o| assert!(write_finite_float(o, 0.5f64))), "0.5");
        assert_eq!(text(|o| assert!(write_finite_float(o, 1e20f64))), "1e20");
        assert_eq!(text(|o| assert!(write_finite_float(o, 0.1f32))), "0.1");
        assert_eq!(text(|o| assert!(!write_finite_float(o, f64::NAN))), "");
        assert_eq!(
            text(|o| assert!(!write_finite_float(o, f32::NEG_INFINITY))),
            ""
        );
    }

    #[test]
    fn json_strings_escape_quotes_backslashes_and_controls() {
        let s = "a\"b\\c\n\r\t\u{8}\u{c}\u{1}\u{1f}é\u{7f}";
        let written = text(|o| write_json_string(o, s));
        assert_eq!(
            written,
            "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001fé\u{7f}\""
        );
        assert_eq!(serde_json::from_str::<String>(&written).unwrap(), s);
    }

    #[test]
    fn base64_and_hex() {
        let b64 = |b: &[u8]| text(|o| write_base64(o, b));
        assert_eq!(b64(b""), "");
        assert_eq!(b64(b"f"), "Zg==");
        assert_eq!(b64(b"fo"), "Zm8=");
        assert_eq!(b64(b"foo"), "Zm9v");
        assert_eq!(b64(b"foobar"), "Zm9vYmFy");
        assert_eq!(b64(&[0xff, 0xfe]), "//4=");
        assert_eq!(text(|o| write_hex(o, &[0x00, 0xab, 0x1f])), "00ab1f");
    }

    proptest! {
        #[test]
        fn trimmed_decimals_agree_with_the_data_crate(m in any::<i128>(), scale in 0u8..=38) {
            let d = Decimal::new(m, scale).unwrap();
            let mut expected = String::new();
            d.write_trimmed(&mut expected);
            prop_assert_eq!(text(|o| write_decimal(o, &d, true)), expected);
            prop_assert_eq!(text(|o| write_decimal(o, &d, false)), d.to_string());
        }

        #[test]
        fn json_strings_round_trip(s in any::<String>()) {
            let written = text(|o| write_json_string(o, &s));
            prop_assert_eq!(serde_json::from_str::<String>(&written).unwrap(), s);
        }
    }
}
