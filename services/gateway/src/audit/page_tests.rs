use portrait_proto::v1::AuditEvent;

use super::{Cursor, Read, merge, parse_token, token};

fn event(source: usize, id: i64, at_ms: i64) -> AuditEvent {
    AuditEvent {
        id,
        at_ms,
        service: super::SOURCES[source].to_owned(),
        ..AuditEvent::default()
    }
}

/// Source `s`'s events below `cursor`, newest first, at most `limit`, from
/// its whole log (ids 1.. in order, times given).
fn read(log: &[AuditEvent], cursor: Cursor, limit: usize) -> Read {
    match cursor {
        Cursor::Exhausted => Read::Skipped,
        Cursor::Below(before) => Read::Events(
            log.iter()
                .rev()
                .filter(|e| before == 0 || e.id < before)
                .take(limit)
                .cloned()
                .collect(),
        ),
    }
}

#[test]
fn a_token_round_trips_and_a_bad_one_names_page_token() {
    let cursors = [
        Cursor::Below(0),
        Cursor::Exhausted,
        Cursor::Below(17),
        Cursor::Below(1),
        Cursor::Exhausted,
    ];
    let t = token(&cursors);
    assert_eq!(t, "v1:0,x,17,1,x");
    assert_eq!(parse_token(&t).expect("ours"), cursors);
    assert_eq!(parse_token("").expect("none"), [Cursor::Below(0); 5]);
    for bad in [
        "12",
        "v1:",
        "v1:0,0,0,0",
        "v1:0,0,0,0,0,0",
        "v1:0,0,-1,0,0",
        "v1:0,0,y,0,0",
        "v2:0,0,0,0,0",
    ] {
        let status = parse_token(bad).expect_err(bad);
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{bad}");
        assert!(status.message().starts_with("page_token"), "{bad}");
    }
}

#[test]
fn paging_yields_every_event_once_whatever_the_times() {
    // Five logs whose times interleave, repeat, and within one source even go
    // backwards (an action written at once beside a refusal still queued).
    let times: [&[i64]; 5] = [
        &[1, 5, 5, 9, 30, 31],
        &[2, 5, 8, 7, 40],
        &[],
        &[5, 5, 5, 5, 5, 5, 5, 5],
        &[3, 100],
    ];
    let logs: Vec<Vec<AuditEvent>> = times
        .iter()
        .enumerate()
        .map(|(s, ts)| {
            ts.iter()
                .enumerate()
                .map(|(k, t)| event(s, k as i64 + 1, *t))
                .collect()
        })
        .collect();
    let total: usize = times.iter().map(|t| t.len()).sum();
    for size in 1..=total + 1 {
        let mut cursors = [Cursor::Below(0); 5];
        let mut seen = Vec::new();
        loop {
            let reads: [Read; 5] = std::array::from_fn(|s| read(&logs[s], cursors[s], size + 1));
            let (page, after, more) = merge(&cursors, &reads, size);
            assert!(page.len() <= size);
            seen.extend(page.iter().map(|e| (e.service.clone(), e.id)));
            // The token is what the client carries between pages.
            cursors = parse_token(&token(&after)).expect("ours");
            if !more {
                break;
            }
            assert!(!page.is_empty(), "a page with more to come is not empty");
        }
        let mut want: Vec<(String, i64)> = logs
            .iter()
            .flatten()
            .map(|e| (e.service.clone(), e.id))
            .collect();
        assert_eq!(seen.len(), total, "size {size}");
        seen.sort();
        want.sort();
        assert_eq!(seen, want, "size {size}");
    }
}

#[test]
fn one_page_is_newest_first_across_sources() {
    let reads = [
        Read::Events(vec![event(0, 3, 50), event(0, 2, 20), event(0, 1, 10)]),
        Read::Events(vec![event(1, 9, 40), event(1, 8, 30)]),
        Read::Skipped,
        Read::Events(vec![]),
        Read::Events(vec![event(4, 1, 45)]),
    ];
    let cursors = [
        Cursor::Below(0),
        Cursor::Below(0),
        Cursor::Exhausted,
        Cursor::Below(0),
        Cursor::Below(0),
    ];
    let (page, after, more) = merge(&cursors, &reads, 3);
    let got: Vec<i64> = page.iter().map(|e| e.at_ms).collect();
    assert_eq!(got, [50, 45, 40]);
    assert!(more);
    assert_eq!(
        after,
        [
            Cursor::Below(3),
            Cursor::Below(9),
            Cursor::Exhausted,
            Cursor::Exhausted,
            Cursor::Exhausted,
        ]
    );
}

#[test]
fn a_missing_source_keeps_its_place() {
    let cursors = [
        Cursor::Below(0),
        Cursor::Below(7),
        Cursor::Below(0),
        Cursor::Exhausted,
        Cursor::Exhausted,
    ];
    let reads = [
        Read::Events(vec![event(0, 2, 20), event(0, 1, 10)]),
        Read::Missing,
        Read::Events(vec![event(2, 4, 15)]),
        Read::Skipped,
        Read::Skipped,
    ];
    let (page, after, more) = merge(&cursors, &reads, 2);
    assert_eq!(page.len(), 2);
    assert_eq!(page.iter().map(|e| e.at_ms).collect::<Vec<_>>(), [20, 15]);
    assert!(more, "the gateway's older event is still to come");
    assert_eq!(after[1], Cursor::Below(7), "ingest keeps its cursor");
    assert_eq!(after[0], Cursor::Below(2));
    assert_eq!(after[2], Cursor::Exhausted);
}
