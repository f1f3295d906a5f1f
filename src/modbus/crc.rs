//! The CRC-16/MODBUS checksum that closes every RTU frame. Owns the arithmetic and the byte
//! order on the wire (low byte first); never frames, sends or interprets anything.

/// Reflected form of the polynomial 0x8005, as the serial line specification computes it.
const POLY: u16 = 0xA001;

/// One entry per possible low byte of the running CRC, built at compile time so each byte costs
/// one lookup instead of eight shifts.
const TABLE: [u16; 256] = build_table();

const fn build_table() -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u16;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

/// The CRC of `data` as a number (the wire carries it low byte first: see [`append`]).
pub fn crc16(data: &[u8]) -> u16 {
    data.iter().fold(0xFFFF, |crc, &byte| {
        (crc >> 8) ^ TABLE[usize::from((crc as u8) ^ byte)]
    })
}

/// Appends the CRC of everything already in `frame`, low byte first.
pub fn append(frame: &mut Vec<u8>) {
    let crc = crc16(frame);
    frame.extend_from_slice(&crc.to_le_bytes());
}

/// Whether `frame` ends with the correct CRC of the bytes before it. Too short to hold a CRC
/// and at least one byte: false.
pub fn is_valid(frame: &[u8]) -> bool {
    let Some(body_len) = frame.len().checked_sub(2).filter(|&n| n > 0) else {
        return false;
    };
    let (body, tail) = frame.split_at(body_len);
    crc16(body).to_le_bytes() == [tail[0], tail[1]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_ten_holding_registers_request() {
        let mut frame = vec![0x01, 0x03, 0x00, 0x00, 0x00, 0x0A];
        append(&mut frame);
        assert_eq!(&frame[6..], &[0xC5, 0xCD]);
        assert!(is_valid(&frame));
    }

    #[test]
    fn catalogue_check_value() {
        // CRC-16/MODBUS check value from the CRC catalogue.
        assert_eq!(crc16(b"123456789"), 0x4B37);
    }

    #[test]
    fn read_three_registers_from_unit_17() {
        let mut frame = vec![0x11, 0x03, 0x00, 0x6B, 0x00, 0x03];
        append(&mut frame);
        assert_eq!(&frame[6..], &[0x76, 0x87]);
    }

    #[test]
    fn any_flipped_bit_is_detected() {
        let mut frame = vec![0x01, 0x03, 0x00, 0x00, 0x00, 0x0A];
        append(&mut frame);
        for byte in 0..frame.len() {
            for bit in 0..8 {
                let mut bad = frame.clone();
                bad[byte] ^= 1 << bit;
                assert!(
                    !is_valid(&bad),
                    "flip of bit {bit} in byte {byte} went unnoticed"
                );
            }
        }
    }

    #[test]
    fn too_short_is_never_valid() {
        assert!(!is_valid(&[]));
        assert!(!is_valid(&[0xFF]));
        assert!(!is_valid(&[0xFF, 0xFF]));
    }
}
