//! One page of `ListAuditEvents` merged from every source's log, and the
//! page token that keeps each source's place.
//!
//! Each source (the gateway, ingest, profiler, rfm, suggest) is read newest
//! first by its own ids, which only that source numbers. The token therefore
//! holds one cursor per source, in `SOURCES` order: `v1:` and five fields
//! joined by `,`, each a decimal id (the next events of that source are those
//! below it; `0` = not read yet, from its newest) or `x` (that source is
//! exhausted). A page takes, among every source's next events, the newest by
//! time (then by source order), and moves each cursor past exactly what it
//! took, so following the tokens yields every event once. A source that did
//! not answer keeps its cursor; the page names it in `missing_sources`.

use portrait_proto::v1::AuditEvent;
use tonic::Status;

/// The sources, in token order.
pub(crate) const SOURCES: [&str; 5] = ["gateway", "ingest", "profiler", "rfm", "suggest"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cursor {
    /// Events below this id; 0 = from the newest.
    Below(i64),
    Exhausted,
}

pub(crate) fn parse_token(token: &str) -> Result<[Cursor; 5], Status> {
    let mut cursors = [Cursor::Below(0); 5];
    if token.is_empty() {
        return Ok(cursors);
    }
    let bad = || portrait_service::http_error::invalid("page_token", "not a token we gave");
    let fields = token.strip_prefix("v1:").ok_or_else(bad)?;
    let mut n = 0;
    for field in fields.split(',') {
        let slot = cursors.get_mut(n).ok_or_else(bad)?;
        *slot = match field {
            "x" => Cursor::Exhausted,
            id => Cursor::Below(
                id.parse::<i64>()
                    .ok()
                    .filter(|id| *id >= 0)
                    .ok_or_else(bad)?,
            ),
        };
        n += 1;
    }
    if n != SOURCES.len() {
        return Err(bad());
    }
    Ok(cursors)
}

pub(crate) fn token(cursors: &[Cursor; 5]) -> String {
    let fields: Vec<String> = cursors
        .iter()
        .map(|c| match c {
            Cursor::Below(id) => id.to_string(),
            Cursor::Exhausted => "x".to_owned(),
        })
        .collect();
    format!("v1:{}", fields.join(","))
}

/// What one source gave for a page.
#[derive(Debug)]
pub(crate) enum Read {
    /// Up to `size + 1` events below its cursor, newest first.
    Events(Vec<AuditEvent>),
    /// Not asked: exhausted before.
    Skipped,
    /// Down or too slow.
    Missing,
}

/// The newest `size` events among `reads`, the cursors after them, and
/// whether any answered source has more.
pub(crate) fn merge(
    cursors: &[Cursor; 5],
    reads: &[Read; 5],
    size: usize,
) -> (Vec<AuditEvent>, [Cursor; 5], bool) {
    let mut taken = [0usize; 5];
    let mut page = Vec::with_capacity(size);
    while page.len() < size {
        let next = reads
            .iter()
            .enumerate()
            .filter_map(|(i, read)| match read {
                Read::Events(events) => events.get(taken[i]).map(|e| (i, e)),
                _ => None,
            })
            // Newest first; at the same millisecond, in source order.
            .max_by_key(|(i, e)| (e.at_ms, std::cmp::Reverse(*i)));
        let Some((i, event)) = next else { break };
        page.push(event.clone());
        taken[i] += 1;
    }
    let mut after = *cursors;
    let mut more = false;
    for (i, read) in reads.iter().enumerate() {
        let Read::Events(events) = read else { continue };
        let k = taken[i];
        if k == events.len() && events.len() <= size {
            after[i] = Cursor::Exhausted;
            continue;
        }
        more = true;
        if let Some(last) = k.checked_sub(1).and_then(|k| events.get(k)) {
            after[i] = Cursor::Below(last.id);
        }
    }
    (page, after, more)
}

#[cfg(test)]
#[path = "page_tests.rs"]
mod tests;
