//! `ExportCustomerLabels`: each clustered customer's cluster and main channel,
//! in pages of one generation, for the suggest service's customer list.

use portrait_proto::v1::{CustomerLabel, CustomerLabels, ExportRequest};
use portrait_service::Result;
use portrait_service::exchange::export_page;

use super::{ClusterBook, Habits};

/// The channel (1..=5, the Channel enum) of most of a customer's orders;
/// ties go to the lower number; 0 without orders.
pub(crate) fn main_channel(h: &Habits) -> u8 {
    let mut best = (0_u32, 0_u8);
    for (i, n) in h.channels.iter().enumerate() {
        if *n > best.0 {
            best = (*n, i as u8 + 1);
        }
    }
    best.1
}

impl ClusterBook {
    pub fn export(&self, req: &ExportRequest) -> Result<CustomerLabels> {
        let Some(h) = self.held() else {
            return Ok(CustomerLabels::default());
        };
        let total = h.members.len();
        let Some((start, end, next)) = export_page(&h.export, total, req)? else {
            return Ok(CustomerLabels {
                generation: h.export.clone(),
                total: total as i64,
                ..CustomerLabels::default()
            });
        };
        let (state, _) = self.projection.live.read();
        let names = state.customers.book.customers();
        let at = |v: &[u8], c: u32| v.get(c as usize).copied().map_or(0, i32::from);
        let labels = (h.members[start..end].iter())
            .map(|&c| CustomerLabel {
                customer_id: names.name(c).to_owned(),
                cluster: at(&h.labels, c),
                main_channel: at(&h.main_channel, c),
            })
            .collect();
        Ok(CustomerLabels {
            generation: h.export.clone(),
            labels,
            next_page_token: next,
            total: total as i64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn main_channel_is_the_most_used_and_ties_go_to_the_lower_number() {
        let h = |channels| Habits {
            channels,
            ..Habits::default()
        };
        assert_eq!(main_channel(&h([0, 0, 0, 0, 0])), 0);
        assert_eq!(main_channel(&h([1, 3, 0, 3, 0])), 2);
        assert_eq!(main_channel(&h([0, 0, 0, 0, 1])), 5);
    }
}
