//! Phone numbers: parsed with libphonenumber's rules, stored in E.164.

use phonenumber::Mode;

/// Validates an international number (starting with `+`) and returns it in E.164.
pub fn to_e164(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if !raw.starts_with('+') || raw.len() > 32 {
        return Err("phone must be an international number starting with +".into());
    }
    let n = phonenumber::parse(None, raw).map_err(|_| "phone is not a valid number".to_string())?;
    if !phonenumber::is_valid(&n) {
        return Err("phone is not a valid number".into());
    }
    Ok(n.format().mode(Mode::E164).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_numbers_become_e164() {
        assert_eq!(to_e164("+44 20 7183 8750").unwrap(), "+442071838750");
        assert_eq!(to_e164("+1 (212) 555-0123").unwrap(), "+12125550123");
        assert_eq!(to_e164("+91 98765 43210").unwrap(), "+919876543210");
        assert_eq!(to_e164("+44 7911 123456").unwrap(), "+447911123456");
        assert_eq!(to_e164("+1 415 555 2671").unwrap(), "+14155552671");
    }

    #[test]
    fn invalid_numbers_are_refused() {
        for bad in [
            "",
            "12345",
            "+",
            "+44 12",
            "+999 123456",
            "tel:+442071838750",
            "+44abc",
        ] {
            assert!(to_e164(bad).is_err(), "{bad}");
        }
    }
}
