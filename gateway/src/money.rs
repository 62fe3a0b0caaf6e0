//! ISO 4217 currencies and their minor units, and amounts written for people.

use crate::i18n::Lang;

/// Active ISO 4217 codes whose minor unit is not 2 decimals.
const ZERO_DECIMALS: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
    "VUV", "XAF", "XOF", "XPF",
];
const THREE_DECIMALS: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
const FOUR_DECIMALS: &[&str] = &["CLF", "UYW"];
/// Active ISO 4217 codes with 2 decimals (funds and precious metals left out).
const TWO_DECIMALS: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF",
    "CHE", "CHF", "CHW", "CNY", "COP", "COU", "CRC", "CUC", "CUP", "CVE", "CZK", "DKK", "DOP",
    "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GTQ",
    "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IRR", "JMD", "KES", "KGS", "KHR",
    "KPW", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "MAD", "MDL", "MGA", "MKD", "MMK",
    "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO",
    "NOK", "NPR", "NZD", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "QAR", "RON", "RSD", "RUB",
    "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SLL", "SOS", "SRD", "SSP", "STN",
    "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "USD",
    "USN", "UYU", "UZS", "VED", "VES", "WST", "XCD", "XCG", "YER", "ZAR", "ZMW", "ZWG", "ZWL",
];

/// The number of decimals of an ISO 4217 currency code; `None` when it is not one.
pub fn exponent(code: &str) -> Option<u32> {
    [
        (ZERO_DECIMALS, 0),
        (TWO_DECIMALS, 2),
        (THREE_DECIMALS, 3),
        (FOUR_DECIMALS, 4),
    ]
    .into_iter()
    .find(|(codes, _)| codes.contains(&code))
    .map(|(_, e)| e)
}

fn symbol(code: &str) -> Option<&'static str> {
    Some(match code {
        "EUR" => "€",
        "USD" => "$",
        "GBP" => "£",
        "JPY" => "¥",
        _ => return None,
    })
}

/// `123456, "EUR"` → `€1,234.56` in English, `1.234,56 €` in German.
pub fn format(minor: i64, code: &str, lang: Lang) -> String {
    let exp = exponent(code).unwrap_or(2);
    let scale = 10u64.pow(exp);
    let abs = minor.unsigned_abs();
    let (whole, frac) = (abs / scale, abs % scale);
    let (group, decimal) = match lang {
        Lang::En => (',', '.'),
        Lang::De => ('.', ','),
    };
    let digits = whole.to_string();
    let mut number = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            number.push(group);
        }
        number.push(d);
    }
    if exp > 0 {
        number.push(decimal);
        number.push_str(&format!("{frac:0width$}", width = exp as usize));
    }
    let sign = if minor < 0 { "-" } else { "" };
    match (lang, symbol(code)) {
        (Lang::En, Some(s)) => format!("{sign}{s}{number}"),
        (Lang::En, None) => format!("{sign}{code} {number}"),
        (Lang::De, s) => format!("{sign}{number}\u{a0}{}", s.unwrap_or(code)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_follow_currency_and_language() {
        assert_eq!(format(123_456, "EUR", Lang::En), "€1,234.56");
        assert_eq!(format(123_456, "EUR", Lang::De), "1.234,56\u{a0}€");
        assert_eq!(format(5, "USD", Lang::En), "$0.05");
        assert_eq!(format(1_000_000, "JPY", Lang::En), "¥1,000,000");
        assert_eq!(format(1_234, "KWD", Lang::En), "KWD 1.234");
        assert_eq!(format(99_000, "CHF", Lang::De), "990,00\u{a0}CHF");
        assert_eq!(format(0, "GBP", Lang::En), "£0.00");
    }

    #[test]
    fn only_iso_codes_are_currencies() {
        assert_eq!(exponent("EUR"), Some(2));
        assert_eq!(exponent("JPY"), Some(0));
        assert_eq!(exponent("BHD"), Some(3));
        assert_eq!(exponent("XYZ"), None);
        assert_eq!(exponent("eur"), None);
        let all = [ZERO_DECIMALS, TWO_DECIMALS, THREE_DECIMALS, FOUR_DECIMALS].concat();
        let mut unique = all.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), all.len(), "a code is listed twice");
        assert!(
            all.iter()
                .all(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()))
        );
    }
}
