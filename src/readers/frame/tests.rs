use super::*;

const RDM: Protocol = Protocol::Rdm6300;
const HEX: Protocol = Protocol::AsciiLine {
    format: AsciiFormat::Hex,
};
const DECIMAL: Protocol = Protocol::AsciiLine {
    format: AsciiFormat::Decimal,
};

/// An RDM6300 frame as the module sends it (checksum computed here, independently).
fn frame(data: &str) -> Vec<u8> {
    let bytes: Vec<u8> = (0..5)
        .map(|i| u8::from_str_radix(&data[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let sum = bytes.iter().fold(0u8, |a, b| a ^ b);
    let mut f = vec![STX];
    f.extend(data.as_bytes());
    f.extend(format!("{sum:02X}").as_bytes());
    f.push(ETX);
    f
}

fn tokens(results: &[Result<Token, Rejected>]) -> Vec<String> {
    results
        .iter()
        .filter_map(|r| r.as_ref().ok().map(|t| t.expose().to_string()))
        .collect()
}

#[test]
fn rdm6300_frame_from_a_real_card() {
    // A frame recorded from a fob printed 0006547886 (= 0x0063E9AE).
    let wire = b"\x02010063E9AE25\x03";
    let mut d = Decoder::new(RDM);
    assert_eq!(tokens(&d.push(wire)), ["010063E9AE"]);
    assert_eq!(frame("010063E9AE"), wire);
}

#[test]
fn rdm6300_frames_split_at_every_byte_or_glued() {
    let one = frame("0102A1B2C3");
    for cut in 1..one.len() {
        let mut d = Decoder::new(RDM);
        assert!(d.push(&one[..cut]).is_empty(), "cut at {cut}");
        assert_eq!(tokens(&d.push(&one[cut..])), ["0102A1B2C3"], "cut at {cut}");
    }
    let mut glued = frame("0102A1B2C3");
    glued.extend(frame("0a0b0c0d0e"));
    glued.extend(frame("0102A1B2C3"));
    let mut d = Decoder::new(RDM);
    assert_eq!(
        tokens(&d.push(&glued)),
        ["0102A1B2C3", "0A0B0C0D0E", "0102A1B2C3"]
    );
    assert_eq!(d.counts().frames, 3);
}

#[test]
fn rdm6300_resynchronises_after_garbage() {
    let mut wire = b"\xff\x00junk".to_vec();
    // A start followed by noise and no end, then a cut-short frame, then a good one.
    wire.extend(b"\x02ZZZZZZZZZZZZZZZZ");
    wire.extend(&frame("0102A1B2C3")[..6]);
    wire.extend(frame("0102A1B2C3"));
    let mut d = Decoder::new(RDM);
    let out = d.push(&wire);
    assert_eq!(tokens(&out), ["0102A1B2C3"]);
    assert_eq!(
        out.iter()
            .filter_map(|r| r.clone().err())
            .collect::<Vec<_>>(),
        [
            Rejected::TooLong { max: 14 },
            Rejected::Truncated { len: 5 }
        ]
    );
    assert_eq!(d.counts().rejected, 2);
    assert!(d.counts().garbage_bytes >= 6);
}

#[test]
fn rdm6300_rejects_bad_checksums_and_bad_bodies() {
    let mut bad = frame("0102A1B2C3");
    bad[11] = b'0';
    bad[12] = b'0';
    let mut d = Decoder::new(RDM);
    assert_eq!(
        d.push(&bad),
        [Err(Rejected::BadChecksum {
            sent: 0,
            computed: 0xD3
        })]
    );
    assert_eq!(
        d.push(b"\x020102A1B2C3\x03"),
        [Err(Rejected::WrongLength { len: 10 })]
    );
    assert_eq!(d.push(b"\x020102A1B2CXD3\x03"), [Err(Rejected::NotHex)]);
    assert_eq!(d.counts().rejected, 3);
    assert_eq!(d.counts().frames, 0);
    // Still in step afterwards.
    assert_eq!(tokens(&d.push(&frame("0102A1B2C3"))), ["0102A1B2C3"]);
}

#[test]
fn rejections_never_show_the_uid() {
    let mut bad = frame("0102A1B2C3");
    bad[12] = b'0';
    let mut d = Decoder::new(RDM);
    let reason = d.push(&bad)[0].clone().unwrap_err().to_string();
    assert!(!reason.contains("A1B2"), "{reason}");
}

#[test]
fn hex_lines_with_any_ending_and_separators() {
    let mut d = Decoder::new(HEX);
    let out = d.push(b"04a1b2c3\r\n04:A1:B2:C4\n04 A1 B2 C5\r\r\n\n04-a1-b2-c6\r");
    assert_eq!(
        tokens(&out),
        ["04A1B2C3", "04A1B2C4", "04A1B2C5", "04A1B2C6"]
    );
    assert_eq!(d.counts().rejected, 0);
}

#[test]
fn hex_lines_split_and_glued() {
    let wire = b"04A1B2C3\r\n0410203040506070\r\n";
    for cut in 1..wire.len() {
        let mut d = Decoder::new(HEX);
        let mut out = d.push(&wire[..cut]);
        out.extend(d.push(&wire[cut..]));
        assert_eq!(tokens(&out), ["04A1B2C3", "0410203040506070"], "cut {cut}");
    }
}

#[test]
fn bad_and_over_long_lines_are_rejected_once() {
    let mut d = Decoder::new(HEX);
    assert_eq!(d.push(b"04A1B2C\n"), [Err(Rejected::OddLength)]);
    assert_eq!(d.push(b"04A1B2CG\n"), [Err(Rejected::NotHex)]);
    let long = vec![b'A'; 3 * MAX_LINE_LEN];
    assert_eq!(
        d.push(&long),
        [Err(Rejected::TooLong { max: MAX_LINE_LEN })]
    );
    // The rest of the long line is skipped; the next line decodes.
    assert_eq!(tokens(&d.push(b"AAAA\r\n04A1B2C3\n")), ["04A1B2C3"]);
    assert_eq!(d.counts().rejected, 3);
}

#[test]
fn decimal_lines_are_big_endian_with_at_least_four_bytes() {
    let mut d = Decoder::new(DECIMAL);
    let out = d.push(b"0078230211\r\n0006547886\n42\n1311768467294899695\n");
    assert_eq!(
        tokens(&out),
        ["04A9B2C3", "0063E9AE", "0000002A", "1234567890ABCDEF"]
    );
    assert_eq!(d.push(b"04A1B2C3\n"), [Err(Rejected::NotDecimal)]);
    let huge = [b'9'; 40];
    assert_eq!(
        d.push(&[&huge[..], b"\n"].concat()),
        [Err(Rejected::NotDecimal)]
    );
}

#[test]
fn hex_and_decimal_readers_disagree_on_the_same_text() {
    let mut hex = Decoder::new(HEX);
    let mut dec = Decoder::new(DECIMAL);
    assert_eq!(tokens(&hex.push(b"12345678\n")), ["12345678"]);
    assert_eq!(tokens(&dec.push(b"12345678\n")), ["00BC614E"]);
}
