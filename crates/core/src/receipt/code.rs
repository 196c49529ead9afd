//! Receipt codes: `XXXX-XXXX-XXXX-XXXX`, the first 80 bits of the ledger entry's hash in
//! Crockford base 32, short enough to read out and type, long enough to find one entry.

/// Crockford's base32 alphabet: no I, L, O or U, so a code read aloud or copied by hand
/// survives.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// How many bytes of the entry hash a code carries: 80 bits, 16 characters.
pub const CODE_BYTES: usize = 10;

/// A receipt code: the first 10 bytes of the ledger entry's hash in Crockford base32,
/// shown as `XXXX-XXXX-XXXX-XXXX`. 80 bits cannot be guessed, and the code leads straight
/// to the entry (see [`ReceiptCode::hash_prefix`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReceiptCode([u8; CODE_BYTES]);

/// Why a receipt code (or the hash it comes from) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CodeError(String);

impl ReceiptCode {
    /// The code of the ledger entry whose hash (hex) is `entry_hash`.
    pub fn from_entry_hash(entry_hash: &str) -> Result<Self, CodeError> {
        let bytes = hex::decode(entry_hash.trim())
            .ok()
            .filter(|b| b.len() == 32)
            .ok_or_else(|| {
                CodeError(format!(
                    "the entry hash {entry_hash:?} is not a SHA-256 in hex"
                ))
            })?;
        let mut out = [0u8; CODE_BYTES];
        out.copy_from_slice(&bytes[..CODE_BYTES]);
        Ok(Self(out))
    }

    /// Reads a code as people type it: any case, with or without dashes or spaces, and
    /// with Crockford's look-alikes (O for 0, I or L for 1).
    pub fn parse(text: &str) -> Result<Self, CodeError> {
        let mut values = Vec::with_capacity(16);
        for c in text.chars() {
            if c == '-' || c.is_whitespace() {
                continue;
            }
            let upper = c.to_ascii_uppercase();
            let normal = match upper {
                'O' => '0',
                'I' | 'L' => '1',
                other => other,
            };
            let value = CROCKFORD
                .iter()
                .position(|&a| char::from(a) == normal)
                .ok_or_else(|| {
                    CodeError(format!(
                        "{c:?} is not used in receipt codes (they use the digits 0–9 and the letters A–Z except I, L, O and U)"
                    ))
                })?;
            values.push(value as u8);
        }
        if values.is_empty() {
            return Err(CodeError("enter the receipt code".into()));
        }
        if values.len() != 16 {
            return Err(CodeError(format!(
                "a receipt code has 16 characters (XXXX-XXXX-XXXX-XXXX); this one has {}",
                values.len()
            )));
        }
        let mut bits: u128 = 0;
        for v in values {
            bits = (bits << 5) | u128::from(v);
        }
        let bytes = bits.to_be_bytes();
        let mut out = [0u8; CODE_BYTES];
        out.copy_from_slice(&bytes[16 - CODE_BYTES..]);
        Ok(Self(out))
    }

    /// The first 20 hex characters of the entry hash: what to look the entry up by
    /// (`substr(hash, 1, 20)`).
    pub fn hash_prefix(&self) -> String {
        hex::encode(self.0)
    }

    /// Whether `entry_hash` (hex) is the hash this code was made from.
    pub fn matches(&self, entry_hash: &str) -> bool {
        entry_hash
            .trim()
            .to_ascii_lowercase()
            .starts_with(&self.hash_prefix())
    }
}

impl std::fmt::Display for ReceiptCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut bits = 0u128;
        for b in self.0 {
            bits = (bits << 8) | u128::from(b);
        }
        for i in 0..16 {
            if i > 0 && i % 4 == 0 {
                f.write_str("-")?;
            }
            let v = (bits >> (5 * (15 - i))) & 0x1f;
            let c = CROCKFORD.get(v as usize).copied().unwrap_or(b'0');
            write!(f, "{}", char::from(c))?;
        }
        Ok(())
    }
}

/// Reads a code as typed and returns the 20-hex-character prefix of the entry hash it
/// names, or what is wrong with it.
pub fn parse_code(text: &str) -> Result<String, CodeError> {
    ReceiptCode::parse(text).map(|c| c.hash_prefix())
}
