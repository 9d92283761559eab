//! Offset/limit paging of an API (`GET /invoices?offset=200&limit=100`): dunwell's opaque
//! cursor becomes an offset and back.
//!
//! ```
//! use dunwell_plugin_sdk::prelude::*;
//! # use dunwell_plugin_sdk::testing::{set_http, HttpResponse};
//! # #[derive(serde::Deserialize)]
//! # struct Row { number: String }
//! # fn invoice(r: Row) -> Result<Invoice, ConnectorError> {
//! #     Ok(Invoice::new(r.number.clone(), r.number, "C1", "2026-01-05", "2026-02-04", "EUR", "10.00"))
//! # }
//!
//! fn pull_invoices(request: PageRequest) -> Result<InvoicePage, ConnectorError> {
//!     let paging = OffsetPaging::new(&request)?.max_limit(500); // the API's own maximum
//!     let rows: Vec<Row> = http::get("https://api.example.com/v1/invoices")
//!         .page(&paging) // ?offset=…&limit=…
//!         .send()?
//!         .error_for_status()?
//!         .json()?;
//!     let (next_cursor, more) = paging.next(&rows); // more: a full page came back
//!     let items = rows.into_iter().map(invoice).collect::<Result<_, _>>()?;
//!     Ok(InvoicePage { items, next_cursor, more })
//! }
//!
//! set_http(|req| {
//!     assert_eq!(req.url, "https://api.example.com/v1/invoices?offset=0&limit=2");
//!     Ok(HttpResponse { status: 200, headers: vec![], body: br#"[{"number": "F1"}, {"number": "F2"}]"#.to_vec() })
//! });
//! let page = pull_invoices(PageRequest { cursor: None, limit: 2 }).unwrap();
//! assert_eq!((page.next_cursor.as_deref(), page.more), (Some("offset:2"), true));
//! ```
//!
//! The cursor is `offset:N`, the same as [`crate::page`]'s, so a connector can switch between
//! them. After the last page it points past the last record: a later pull from it gets what
//! was added at the end since (an API that lists oldest first). An API that cannot list what
//! changed is read whole every time (see the README: "An API without a change feed").

use crate::http::Request;
use crate::{ConnectorError, PageRequest};

/// The offset and limit of one page; see the [module](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetPaging {
    offset: u64,
    limit: u32,
}

impl OffsetPaging {
    /// The page `request` asks for: no cursor is offset 0; the limit is dunwell's page size
    /// (at least 1).
    pub fn new(request: &PageRequest) -> Result<OffsetPaging, ConnectorError> {
        Ok(OffsetPaging { offset: Self::offset_of(request.cursor.as_deref())?, limit: request.limit.max(1) })
    }

    /// The offset a cursor of this kind stands for (`None`: 0).
    pub fn offset_of(cursor: Option<&str>) -> Result<u64, ConnectorError> {
        match cursor {
            None => Ok(0),
            Some(c) => c.strip_prefix("offset:").and_then(|n| n.parse().ok()).ok_or_else(|| {
                ConnectorError::InvalidData(format!(
                    "{c:?} is not a cursor of offset paging (offset:N); `dunwell sync NAME --full` starts over"
                ))
            }),
        }
    }

    /// The cursor of an offset: `offset:N`.
    pub fn cursor(offset: u64) -> String {
        format!("offset:{offset}")
    }

    /// Asks for no more than `max` records (an API's own maximum page size), so that a page of
    /// `max` counts as full.
    pub fn max_limit(mut self, max: u32) -> OffsetPaging {
        self.limit = self.limit.min(max.max(1));
        self
    }

    /// The offset of this page (records to skip).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The number of records to ask for.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// The next cursor and `more`, from the records the API returned for this page (count
    /// them before you drop any): more follow when a full page came back; the cursor points
    /// after the last record returned.
    pub fn next<T>(&self, rows: &[T]) -> (Option<String>, bool) {
        let n = rows.len() as u64;
        (Some(Self::cursor(self.offset.saturating_add(n))), n >= u64::from(self.limit))
    }
}

impl Request {
    /// Adds `offset=N&limit=M` for this page.
    pub fn page(self, paging: &OffsetPaging) -> Request {
        self.page_as(paging, "offset", "limit")
    }

    /// Adds the offset and limit under the API's own names (`skip`/`take`, `start`/`count`).
    pub fn page_as(self, paging: &OffsetPaging, offset: &str, limit: &str) -> Request {
        self.query(offset, &paging.offset.to_string()).query(limit, &paging.limit.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http;

    fn request(cursor: Option<&str>, limit: u32) -> PageRequest {
        PageRequest { cursor: cursor.map(str::to_string), limit }
    }

    #[test]
    fn cursor_to_offset_and_back() {
        let first = OffsetPaging::new(&request(None, 100)).unwrap();
        assert_eq!((first.offset(), first.limit()), (0, 100));
        let url = http::get("https://x.example/v1/invoices").page(&first).url();
        assert_eq!(url, "https://x.example/v1/invoices?offset=0&limit=100");
        // A full page: more follow, from after it.
        assert_eq!(first.next(&[0u8; 100]), (Some("offset:100".into()), true));
        let second = OffsetPaging::new(&request(Some("offset:100"), 100)).unwrap();
        assert_eq!(second.offset(), 100);
        // A short page is the last; the cursor points after its last record.
        assert_eq!(second.next(&[0u8; 7]), (Some("offset:107".into()), false));
        assert_eq!(second.next::<u8>(&[]), (Some("offset:100".into()), false));
    }

    #[test]
    fn the_apis_maximum_and_names() {
        let p = OffsetPaging::new(&request(Some("offset:40"), 100)).unwrap().max_limit(20);
        assert_eq!(p.limit(), 20);
        assert_eq!(p.next(&[(); 20]), (Some("offset:60".into()), true), "20 is a full page of this API");
        let url = http::get("https://x.example/a?sort=id").page_as(&p, "skip", "take").url();
        assert_eq!(url, "https://x.example/a?sort=id&skip=40&take=20");
        assert_eq!(OffsetPaging::new(&request(None, 0)).unwrap().limit(), 1);
        assert_eq!(OffsetPaging::new(&request(None, 5)).unwrap().max_limit(0).limit(), 1);
    }

    #[test]
    fn a_foreign_cursor_is_an_error_that_says_what_to_do() {
        for bad in ["2026-01-01|2", "offset:", "offset:-1", "offset:x"] {
            let e = OffsetPaging::new(&request(Some(bad), 10)).unwrap_err();
            assert!(matches!(&e, ConnectorError::InvalidData(m) if m.contains("--full")), "{bad}: {e:?}");
        }
        assert_eq!(OffsetPaging::cursor(7), "offset:7");
        assert_eq!(OffsetPaging::offset_of(Some("offset:7")).unwrap(), 7);
    }

    #[test]
    fn page_of_a_list_held_in_full_shares_the_cursor() {
        let all = || (1..=5).collect::<Vec<u8>>();
        let (items, cursor, more) = crate::page(all(), &request(None, 2)).unwrap();
        assert_eq!((items, cursor.as_deref(), more), (vec![1, 2], Some("offset:2"), true));
        let next = OffsetPaging::new(&request(cursor.as_deref(), 2)).unwrap();
        assert_eq!(next.offset(), 2, "OffsetPaging reads page's cursor");
        let (items, cursor, more) = crate::page(all(), &request(Some("offset:4"), 2)).unwrap();
        assert_eq!((items, cursor.as_deref(), more), (vec![5], Some("offset:5"), false));
        let (items, cursor, more) = crate::page(all(), &request(Some("offset:99"), 2)).unwrap();
        assert_eq!((items.is_empty(), cursor.as_deref(), more), (true, Some("offset:99"), false));
        let e = crate::page(all(), &request(Some("2026-01-01|2"), 2)).unwrap_err();
        assert!(matches!(&e, ConnectorError::InvalidData(m) if m.contains("not a cursor")), "{e:?}");
    }
}
