use super::*;

fn message(i: usize) -> Message {
    Message {
        key: format!("c{}", i % 7),
        payload: vec![u8::try_from(i % 251).unwrap_or(0); i % 40],
        headers: vec![("n".to_owned(), i.to_string())],
    }
}

fn unpacked(bundles: &[(i32, Vec<u8>)]) -> Vec<Record> {
    let mut out = Vec::new();
    for (offset, (partition, payload)) in bundles.iter().enumerate() {
        let record = Record {
            topic: "t".into(),
            partition: *partition,
            offset: offset as i64,
            key: String::new(),
            payload: payload.clone(),
            headers: headers()
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        };
        unpack(record, &mut out);
    }
    out
}

#[test]
fn the_partition_is_crc32_of_the_key() {
    // The CRC-32 check value: crc32("123456789") = 0xCBF43926.
    assert_eq!(partition_of("123456789", 7), (0xCBF4_3926_u32 % 7) as i32);
    assert_eq!(partition_of("123456789", 1), 0);
    assert_eq!(partition_of("", 12), 0);
    for p in [2, 3, 12] {
        assert!((0..p).contains(&partition_of("c-1", p)));
    }
}

#[test]
fn every_message_comes_back_once_in_order_on_its_partition() {
    let messages: Vec<Message> = (0..1000).map(message).collect();
    for (max_records, max_bytes) in [(1, MAX_BUNDLE_BYTES), (10, MAX_BUNDLE_BYTES), (1000, 300)] {
        let bundles = pack(&messages, 3, max_records, max_bytes);
        for (_, payload) in &bundles {
            let n = Bundle::decode(payload.as_slice()).map(|b| b.entries.len());
            assert!(
                matches!(n, Ok(n) if (1..=max_records).contains(&n)),
                "{n:?}"
            );
        }
        let back = unpacked(&bundles);
        assert_eq!(back.len(), messages.len());
        for p in 0..3 {
            let sent: Vec<&Message> = messages
                .iter()
                .filter(|m| partition_of(&m.key, 3) == p)
                .collect();
            let got: Vec<&Record> = back.iter().filter(|r| r.partition == p).collect();
            assert_eq!(sent.len(), got.len());
            for (m, r) in sent.iter().zip(got) {
                assert_eq!(
                    (&m.key, &m.payload, &m.headers),
                    (&r.key, &r.payload, &r.headers)
                );
            }
            // Offsets only grow along a partition: a position after a
            // bundle is after all of it.
            let offsets: Vec<i64> = back
                .iter()
                .filter(|r| r.partition == p)
                .map(|r| r.offset)
                .collect();
            assert!(offsets.windows(2).all(|w| w[0] <= w[1]));
        }
    }
}

#[test]
fn a_bundle_is_cut_by_size() {
    let big: Vec<Message> = (0..10)
        .map(|i| Message {
            key: "same".into(),
            payload: vec![7; 100_000 + i],
            headers: Vec::new(),
        })
        .collect();
    let bundles = pack(&big, 4, 1000, MAX_BUNDLE_BYTES);
    assert!(bundles.len() >= 2);
    // Each bundle but one holding a single oversized entry stays in bounds.
    assert!(bundles.iter().all(|(_, b)| b.len() <= MAX_BUNDLE_BYTES));
    assert_eq!(unpacked(&bundles).len(), 10);
}

#[test]
fn an_unreadable_bundle_comes_back_whole_with_its_reason() {
    let mut out = Vec::new();
    let record = |version: &str, payload: Vec<u8>| Record {
        topic: "t".into(),
        partition: 1,
        offset: 9,
        key: String::new(),
        payload,
        headers: vec![(BUNDLE_HEADER.to_owned(), version.to_owned())],
    };
    unpack(record("1", vec![0xff, 0xff, 0xff]), &mut out);
    unpack(record("2", Bundle::default().encode_to_vec()), &mut out);
    assert_eq!(out.len(), 2);
    assert!(unreadable_bundle(&out[0]).is_some_and(|r| r.starts_with("not a Bundle")));
    assert!(unreadable_bundle(&out[1]).is_some_and(|r| r.contains("\"2\" is not known")));
    let plain = Record {
        headers: Vec::new(),
        ..out[0].clone()
    };
    unpack(plain.clone(), &mut out);
    assert_eq!(out.last(), Some(&plain));
    assert_eq!(unreadable_bundle(&plain), None);
}
