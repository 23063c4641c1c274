//! The lines of a source order: which count, what each nets, and how an
//! order-level refund is spread over them.

use std::collections::HashSet;

use super::{Mapper, SourceLine, SourceOrder, Step, money};
use crate::money::yuan_to_fen;
use crate::reason::{Finding, Reason};

/// A line with its amounts resolved.
pub(super) struct Line<'a> {
    pub(super) src: &'a SourceLine,
    pub(super) gross: i64,
    pub(super) refund: i64,
    pub(super) net: i64,
}

impl<'a> Mapper<'a> {
    /// Live lines in id order, duplicates dropped, amounts resolved.
    pub(super) fn lines(&mut self) -> Step<Vec<Line<'a>>> {
        let src: &'a SourceOrder = self.src;
        let mut live: Vec<&'a SourceLine> = src
            .lines
            .iter()
            .filter(|l| l.delflag.unwrap_or(0) == 0)
            .collect();
        live.sort_by_key(|l| l.id);
        if self.rules.drop_duplicate_lines {
            let mut seen = HashSet::new();
            live.retain(|l| {
                let key = (
                    l.goods_id,
                    l.goods_number,
                    l.goods_price.as_deref().and_then(yuan_to_fen),
                    l.goods_total.as_deref().and_then(yuan_to_fen),
                    l.real_income.as_deref().and_then(yuan_to_fen),
                    l.is_refund.unwrap_or(0),
                    l.refund_money.as_deref().and_then(yuan_to_fen).unwrap_or(0),
                );
                if seen.insert(key) {
                    true
                } else {
                    self.findings.push(
                        Finding::new(
                            Reason::DuplicateLine,
                            src.id,
                            "identical to an earlier line",
                        )
                        .line(l.id),
                    );
                    false
                }
            });
        }
        if live.is_empty() {
            return Err((Reason::NoLines, "no live OrderGoods rows".into()));
        }
        let max = self.rules.max_amount_fen;
        let resolve = |l: &'a SourceLine| -> Step<Line<'a>> {
            let at = |(r, d): (Reason, String)| (r, format!("line {}: {d}", l.id));
            match l.goods_id {
                Some(g) if g > 0 => {}
                _ => return Err(at((Reason::BadProduct, "goodsId is not set".into()))),
            }
            match l.goods_number {
                Some(q) if q > 0 => {}
                q => {
                    return Err(at((
                        Reason::BadQuantity,
                        format!(
                            "goodsNumber = {}",
                            q.map_or("NULL".into(), |q| q.to_string())
                        ),
                    )));
                }
            }
            let gross = match money("realIncomeAmount", &l.real_income).map_err(at)? {
                Some(g) => g,
                None => money("goodsTotal", &l.goods_total)
                    .map_err(at)?
                    .ok_or_else(|| {
                        at((
                            Reason::BadAmount,
                            "goodsTotal and realIncomeAmount are NULL".into(),
                        ))
                    })?,
            };
            let refund = if l.is_refund.unwrap_or(0) == 1 {
                gross
            } else {
                money("refundMoney", &l.refund_money)
                    .map_err(at)?
                    .unwrap_or(0)
            };
            if gross > max || refund > max {
                return Err(at((
                    Reason::AbsurdAmount,
                    format!("{} fen is above sync.max_amount_fen", gross.max(refund)),
                )));
            }
            if refund > gross {
                return Err(at((
                    Reason::NegativeAmount,
                    format!("refund {refund} fen exceeds the line's {gross} fen"),
                )));
            }
            Ok(Line {
                src: l,
                gross,
                refund,
                net: gross - refund,
            })
        };
        let mut lines = Vec::with_capacity(live.len());
        for l in live {
            match resolve(l) {
                Ok(line) => lines.push(line),
                Err(e) => {
                    self.bad_line = Some(l.id);
                    return Err(e);
                }
            }
        }
        Ok(lines)
    }

    /// Lines should add up to what was paid (`cash`, else `total`).
    pub(super) fn check_against_cash(&mut self, lines: &[Line<'_>]) -> Step<()> {
        let src = self.src;
        let paid = match money("cash", &src.cash)? {
            Some(c) => Some(c),
            None => money("total", &src.total)?,
        };
        let Some(paid) = paid else { return Ok(()) };
        let sum: i64 = lines.iter().map(|l| l.gross).sum();
        if (sum - paid).abs() > self.rules.mismatch_tolerance_fen {
            let detail = format!("lines add up to {sum} fen, the order paid {paid} fen");
            if self.rules.reject_mismatch {
                return Err((Reason::LinesMismatch, detail));
            }
            self.findings
                .push(Finding::new(Reason::LinesMismatch, src.id, detail));
        }
        Ok(())
    }

    /// Spreads the part of the order-level refund that the lines' own refunds
    /// do not explain over the lines, pro rata to their net amounts. Each line
    /// takes floor(U·net/S) fen; the fen left over go one each to the lines with
    /// the largest remainders, ties to the lower line id. A refund above the
    /// lines' total zeroes every line.
    pub(super) fn spread_order_refund(&mut self, lines: &mut [Line<'_>], order_refund: i64) {
        let explained: i64 = lines.iter().map(|l| l.refund).sum();
        let unexplained = order_refund - explained;
        if unexplained <= 0 {
            return;
        }
        let total: i64 = lines.iter().map(|l| l.net).sum();
        let id = self.src.id;
        if unexplained >= total {
            if unexplained > total {
                self.findings.push(Finding::new(
                    Reason::RefundExceeds,
                    id,
                    format!("refundMoney leaves {unexplained} fen unexplained, the lines hold {total} fen"),
                ));
            } else {
                self.findings.push(Finding::new(
                    Reason::RefundSpread,
                    id,
                    format!("{unexplained} fen spread over the lines"),
                ));
            }
            for l in lines.iter_mut() {
                l.refund += l.net;
                l.net = 0;
            }
            return;
        }
        let (u, s) = (i128::from(unexplained), i128::from(total));
        let mut shares: Vec<(i64, i128, usize)> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let p = u * i128::from(l.net);
                // share < net ≤ i64::MAX, so the cast is exact.
                ((p / s) as i64, p % s, i)
            })
            .collect();
        let left = unexplained - shares.iter().map(|x| x.0).sum::<i64>();
        let mut by_remainder: Vec<usize> = (0..shares.len()).collect();
        by_remainder.sort_by(|&a, &b| {
            shares[b]
                .1
                .cmp(&shares[a].1)
                .then(lines[a].src.id.cmp(&lines[b].src.id))
        });
        for &i in by_remainder.iter().take(left as usize) {
            shares[i].0 += 1;
        }
        for (share, _, i) in shares {
            lines[i].net -= share;
            lines[i].refund += share;
        }
        self.findings.push(Finding::new(
            Reason::RefundSpread,
            id,
            format!("{unexplained} fen spread over the lines"),
        ));
    }
}
