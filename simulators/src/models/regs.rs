//! Register images: a model writes its present values into an `Image` (big-endian, high word
//! first, as every device here does) and the read rules of its vendor cut the requested block
//! out of it.
//!
//! Owns value encodings (u16..u64, i16/i32, f32/f64, NUL-padded strings) and the two read
//! rules: strict (every address must exist, else exception 2) and padded (Alfen: reserved
//! registers inside a read are 0xFFFF). Never knows what a register means.

use std::collections::BTreeMap;

use crate::pdu::Exception;

/// "Unavailable" in 16-bit registers (generic-socket) and the word Alfen pads with.
pub(crate) const UNAVAILABLE: u16 = 0xFFFF;

#[derive(Debug, Default)]
pub(crate) struct Image {
    words: BTreeMap<u16, u16>,
}

impl Image {
    pub fn new() -> Self {
        Image::default()
    }

    pub fn words(&mut self, addr: u16, words: &[u16]) {
        for (i, w) in words.iter().enumerate() {
            self.words.insert(addr + i as u16, *w);
        }
    }

    pub fn u16(&mut self, addr: u16, v: u16) {
        self.words(addr, &[v]);
    }

    pub fn i16(&mut self, addr: u16, v: i16) {
        self.u16(addr, v as u16);
    }

    pub fn u32(&mut self, addr: u16, v: u32) {
        self.words(addr, &[(v >> 16) as u16, v as u16]);
    }

    pub fn i32(&mut self, addr: u16, v: i32) {
        self.u32(addr, v as u32);
    }

    pub fn u64(&mut self, addr: u16, v: u64) {
        self.words(
            addr,
            &[
                (v >> 48) as u16,
                (v >> 32) as u16,
                (v >> 16) as u16,
                v as u16,
            ],
        );
    }

    pub fn f32(&mut self, addr: u16, v: f32) {
        self.u32(addr, v.to_bits());
    }

    pub fn f64(&mut self, addr: u16, v: f64) {
        self.u64(addr, v.to_bits());
    }

    /// `regs` registers filled with `word` (Alfen's NaN for unavailable values: all ones).
    pub fn fill(&mut self, addr: u16, regs: u16, word: u16) {
        for i in 0..regs {
            self.u16(addr + i, word);
        }
    }

    /// ASCII, two characters per register, high byte first, NUL padded to `regs` registers.
    pub fn str(&mut self, addr: u16, regs: u16, s: &str) {
        let b = s.as_bytes();
        for i in 0..regs {
            let at = |j: usize| b.get(j).copied().unwrap_or(0);
            let j = 2 * usize::from(i);
            self.u16(addr + i, u16::from_be_bytes([at(j), at(j + 1)]));
        }
    }

    fn block(addr: u16, qty: u16) -> Result<std::ops::Range<u32>, Exception> {
        let end = u32::from(addr) + u32::from(qty);
        if end > 0x1_0000 {
            return Err(Exception::ILLEGAL_ADDRESS);
        }
        Ok(u32::from(addr)..end)
    }

    /// Every register of the block must exist, else exception 2.
    pub fn read_strict(&self, addr: u16, qty: u16) -> Result<Vec<u16>, Exception> {
        Self::block(addr, qty)?
            .map(|a| {
                self.words
                    .get(&(a as u16))
                    .copied()
                    .ok_or(Exception::ILLEGAL_ADDRESS)
            })
            .collect()
    }

    /// Alfen's rule: registers of the block that hold nothing read `pad`; a block that touches
    /// no register at all is an illegal address.
    pub fn read_padded(&self, addr: u16, qty: u16, pad: u16) -> Result<Vec<u16>, Exception> {
        let words: Vec<Option<u16>> = Self::block(addr, qty)?
            .map(|a| self.words.get(&(a as u16)).copied())
            .collect();
        if words.iter().all(Option::is_none) {
            return Err(Exception::ILLEGAL_ADDRESS);
        }
        Ok(words.into_iter().map(|w| w.unwrap_or(pad)).collect())
    }
}

/// Decodes a big-endian u32 from two registers (write requests).
pub(crate) fn u32_of(words: &[u16]) -> u32 {
    (u32::from(words[0]) << 16) | u32::from(words[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_are_big_endian_high_word_first() {
        let mut i = Image::new();
        i.u32(0, 0x1234_5678);
        i.f32(2, 1.0);
        i.str(4, 3, "C2");
        i.u64(7, 0x0001_0002_0003_0004);
        assert_eq!(
            i.read_strict(0, 11).unwrap(),
            vec![0x1234, 0x5678, 0x3F80, 0, 0x4332, 0, 0, 1, 2, 3, 4]
        );
        assert_eq!(i.read_strict(10, 2), Err(Exception::ILLEGAL_ADDRESS));
        assert_eq!(i.read_padded(10, 2, 0xFFFF).unwrap(), vec![4, 0xFFFF]);
        assert_eq!(
            i.read_padded(20, 2, 0xFFFF),
            Err(Exception::ILLEGAL_ADDRESS)
        );
        assert_eq!(i.read_strict(0xFFFF, 2), Err(Exception::ILLEGAL_ADDRESS));
    }
}
