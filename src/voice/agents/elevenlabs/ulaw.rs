//! G.711 µ-law ↔ 16-bit linear PCM, for agents configured with `ulaw_8000`.
//!
//! Decoding uses a 256-entry table built at compile time; encoding uses the standard
//! segment search with the 0x84 bias. Pure functions, no state.

const BIAS: i32 = 0x84;
const CLIP: i32 = 32_635;

const fn decode_one(byte: u8) -> i16 {
    let u = !byte;
    let sign = u & 0x80;
    let exponent = ((u >> 4) & 0x07) as i32;
    let mantissa = (u & 0x0f) as i32;
    let magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS;
    if sign != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

const fn build_table() -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = decode_one(i as u8);
        i += 1;
    }
    t
}

/// µ-law byte → linear sample.
pub static DECODE_TABLE: [i16; 256] = build_table();

/// Decodes µ-law bytes to linear samples.
pub fn decode(bytes: &[u8]) -> Vec<i16> {
    bytes.iter().map(|&b| DECODE_TABLE[b as usize]).collect()
}

/// Encodes one linear sample as µ-law.
pub fn encode_one(sample: i16) -> u8 {
    let mut s = i32::from(sample);
    let sign = if s < 0 {
        s = -s;
        0x80
    } else {
        0
    };
    let s = s.min(CLIP) + BIAS;
    // Segment: position of the highest set bit above bit 7 (0..=7).
    let exponent = (31 - (s as u32).leading_zeros()).saturating_sub(7).min(7) as i32;
    let mantissa = (s >> (exponent + 3)) & 0x0f;
    !(sign | (exponent << 4) as u8 | mantissa as u8)
}

/// Encodes linear samples as µ-law bytes.
pub fn encode(samples: &[i16]) -> Vec<u8> {
    samples.iter().map(|&s| encode_one(s)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_points_of_the_g711_table() {
        assert_eq!(DECODE_TABLE[0xff], 0);
        assert_eq!(DECODE_TABLE[0x7f], 0);
        assert_eq!(DECODE_TABLE[0x00], -32_124);
        assert_eq!(DECODE_TABLE[0x80], 32_124);
        assert_eq!(encode_one(0), 0xff);
        assert_eq!(encode_one(32_767), 0x80);
        assert_eq!(encode_one(-32_768), 0x00);
    }

    #[test]
    fn every_code_round_trips_and_samples_stay_close() {
        for b in 0..=255u8 {
            let s = DECODE_TABLE[b as usize];
            // 0x7f and 0xff both mean zero; encoding picks the positive one.
            let expected = if b == 0x7f { 0xff } else { b };
            assert_eq!(encode_one(s), expected, "code {b:#x}");
        }
        for s in (-32_000i16..32_000).step_by(97) {
            let back = DECODE_TABLE[encode_one(s) as usize];
            let err = (i32::from(back) - i32::from(s)).abs();
            assert!(err <= 1024.max(i32::from(s).abs() / 16), "{s} -> {back}");
        }
    }
}
