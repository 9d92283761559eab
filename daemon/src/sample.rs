//! Deterministic sample data in the spreadsheet export format (`csv-export.md`).
//!
//! Demos, benchmarks and tests need a book of customers, invoices and payments that a
//! bookkeeper would recognise: Dutch, Flemish and Walloon names and addresses, invoice numbers
//! that run by date, VAT-shaped totals, and payers who behave consistently (a bad payer is late
//! on most invoices, not on a random few). The output depends only on [`SampleOptions`], so a
//! benchmark or a bug report can name its data set by its arguments instead of shipping files.
//!
//! Randomness is drawn from ChaCha8 streams and turned into numbers with plain IEEE arithmetic
//! only (no `ln`/`exp` from the platform's libm), so the same arguments give the same bytes on
//! every machine, not just on the one that ran them first.

use std::fmt::Write as _;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use chrono::{Datelike, Months, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;

use crate::model::{CustomerKind, Language, PaymentMethod};

/// What to generate. `as_of` is "today" for the data: nothing is issued or paid after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleOptions {
    pub customers: usize,
    pub invoices: usize,
    pub seed: u64,
    pub as_of: NaiveDate,
}

/// Counts of what was written, so callers can report them without re-reading the files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SampleSummary {
    pub customers: usize,
    pub invoices: usize,
    pub payments: usize,
    /// Invoices with something still unpaid on `as_of` (overdue or not yet due).
    pub open_invoices: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    #[error("invalid sample options: {0}")]
    Options(String),
    #[error("cannot create sample directory {}: {source}", path.display())]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot move {} into place as {}: {source}", from.display(), to.display())]
    Rename { from: PathBuf, to: PathBuf, source: io::Error },
}

/// Writes `customers.csv`, `invoices.csv` and `payments.csv` into `dir`.
///
/// Each file is written under a temporary name, synced, and only renamed into place once all
/// three are complete, so an interrupted run leaves either the previous files or nothing under
/// the real names, never a truncated export that an import would half-accept.
pub fn generate(opts: &SampleOptions, dir: &Path) -> Result<SampleSummary, SampleError> {
    validate(opts)?;
    std::fs::create_dir_all(dir)
        .map_err(|source| SampleError::CreateDir { path: dir.to_path_buf(), source })?;
    let files = ["customers.csv", "invoices.csv", "payments.csv"].map(|name| {
        let real = dir.join(name);
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        (tmp, real)
    });
    let result = write_all(opts, &files);
    if result.is_err() {
        for (tmp, _) in &files {
            let _ = std::fs::remove_file(tmp);
        }
        return result;
    }
    for (tmp, real) in &files {
        if let Err(source) = std::fs::rename(tmp, real) {
            for (tmp, _) in &files {
                let _ = std::fs::remove_file(tmp);
            }
            return Err(SampleError::Rename { from: tmp.clone(), to: real.clone(), source });
        }
    }
    result
}

fn validate(opts: &SampleOptions) -> Result<(), SampleError> {
    if opts.customers == 0 {
        return Err(SampleError::Options("at least one customer is needed".into()));
    }
    if opts.invoices == 0 {
        return Err(SampleError::Options("at least one invoice is needed".into()));
    }
    if opts.customers > u32::MAX as usize || opts.invoices > u32::MAX as usize {
        return Err(SampleError::Options(format!("at most {} customers and invoices", u32::MAX)));
    }
    // Invoice numbers carry a four-digit year, and customers go back ten years.
    if !(1950..=9000).contains(&opts.as_of.year()) {
        return Err(SampleError::Options(format!("as_of {} is outside the years 1950 to 9000", opts.as_of)));
    }
    Ok(())
}

/// Separate streams per file, so changing how invoices are drawn does not reshuffle the
/// customers of an existing seed (and tests can re-draw the hidden customer profiles alone).
const CUSTOMER_STREAM: u64 = 1;
const INVOICE_STREAM: u64 = 2;

fn rng_for(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

const BUFFER: usize = 1 << 18;

fn csv_writer(path: &Path) -> Result<csv::Writer<File>, SampleError> {
    let file =
        File::create(path).map_err(|source| SampleError::Write { path: path.to_path_buf(), source })?;
    Ok(csv::WriterBuilder::new().buffer_capacity(BUFFER).from_writer(file))
}

fn write_err(path: &Path) -> impl Fn(csv::Error) -> SampleError + '_ {
    move |e| SampleError::Write { path: path.to_path_buf(), source: io::Error::from(e) }
}

/// Flushes and syncs, so the rename that follows never publishes data still in the page cache
/// only.
fn finish(wtr: csv::Writer<File>, path: &Path) -> Result<(), SampleError> {
    let file = wtr
        .into_inner()
        .map_err(|e| SampleError::Write { path: path.to_path_buf(), source: e.into_error() })?;
    file.sync_all().map_err(|source| SampleError::Write { path: path.to_path_buf(), source })
}

fn write_all(opts: &SampleOptions, files: &[(PathBuf, PathBuf); 3]) -> Result<SampleSummary, SampleError> {
    let (cust_path, inv_path, pay_path) = (&files[0].0, &files[1].0, &files[2].0);

    let mut wtr = csv_writer(cust_path)?;
    let err = write_err(cust_path);
    wtr.write_record(CUSTOMER_HEADER).map_err(&err)?;
    let mut write_error = None;
    let payers = draw_customers(opts, |text| {
        if write_error.is_none() {
            if let Err(e) = wtr.write_record(text.fields()) {
                write_error = Some(e);
            }
        }
    });
    if let Some(e) = write_error {
        return Err(err(e));
    }
    finish(wtr, cust_path)?;

    let mut inv = csv_writer(inv_path)?;
    let inv_err = write_err(inv_path);
    inv.write_record(INVOICE_HEADER).map_err(&inv_err)?;
    let mut payments = Vec::with_capacity(opts.invoices + opts.invoices / 8);
    let mut open_invoices = 0;
    let mut write_error = None;
    draw_invoices(opts, &payers, |row, pays| {
        if row.open > Decimal::ZERO {
            open_invoices += 1;
        }
        payments.extend_from_slice(pays);
        if write_error.is_none() {
            if let Err(e) = row.write(&mut inv) {
                write_error = Some(e);
            }
        }
    });
    if let Some(e) = write_error {
        return Err(inv_err(e));
    }
    finish(inv, inv_path)?;

    // A bank or bookkeeping export lists payments by the day they arrived.
    payments.sort_unstable_by_key(|p| (p.date, p.year, p.seq, p.cents));
    let mut pay = csv_writer(pay_path)?;
    let pay_err = write_err(pay_path);
    pay.write_record(PAYMENT_HEADER).map_err(&pay_err)?;
    let mut number = String::with_capacity(16);
    let mut date = String::with_capacity(10);
    let mut amount = String::with_capacity(16);
    for p in &payments {
        invoice_number(&mut number, p.year, p.seq);
        put_date(&mut date, p.date);
        put_amount(&mut amount, Decimal::new(p.cents, 2));
        pay.write_record([
            number.as_bytes(),
            date.as_bytes(),
            amount.as_bytes(),
            p.method.as_str().as_bytes(),
        ])
        .map_err(&pay_err)?;
    }
    finish(pay, pay_path)?;

    Ok(SampleSummary {
        customers: opts.customers,
        invoices: opts.invoices,
        payments: payments.len(),
        open_invoices,
    })
}

const CUSTOMER_HEADER: [&str; 13] = [
    "customer_id",
    "name",
    "kind",
    "language",
    "email",
    "phone",
    "street",
    "postal_code",
    "city",
    "country",
    "customer_since",
    "payment_method",
    "segment",
];
const INVOICE_HEADER: [&str; 7] =
    ["invoice_number", "customer_id", "issue_date", "due_date", "currency", "total", "open_amount"];
const PAYMENT_HEADER: [&str; 4] = ["invoice_number", "date", "amount", "method"];

// ---------------------------------------------------------------------------------------------
// Customers

/// How a customer really pays. It is never written out: segmentation has to find it from the
/// payment history, which is exactly what the sample data is meant to exercise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Profile {
    Good,
    Average,
    Bad,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Country {
    Nl,
    Be,
}

/// Where a name comes from; it decides first names, surnames, and how a Dutch surname's
/// "van"/"de" is capitalised ("Jan van den Berg" in the Netherlands, "Jan Van den Berg" in
/// Flanders).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Culture {
    Dutch,
    Flemish,
    Walloon,
    English,
}

/// The hidden and visible facts about a customer that the invoice generator needs; kept small
/// because there can be hundreds of thousands.
#[derive(Debug, Clone)]
struct Payer {
    kind: CustomerKind,
    country: Country,
    profile: Profile,
    method: PaymentMethod,
    term_days: i32,
    currency: &'static str,
    /// Centre of the customer's invoice totals, in natural-log euros: a customer's invoices
    /// are of a similar size, as they are in a real ledger.
    log_amount: f64,
    since: i32,
    weight: f64,
}

/// One customer row, reusing its buffers from row to row.
#[derive(Default)]
struct CustomerText {
    id: String,
    name: String,
    email: String,
    phone: String,
    street: String,
    postal_code: String,
    city: &'static str,
    since: String,
    kind: &'static str,
    language: &'static str,
    country: &'static str,
    method: &'static str,
    segment: &'static str,
    scratch: String,
}

impl CustomerText {
    fn fields(&self) -> [&[u8]; 13] {
        [
            self.id.as_bytes(),
            self.name.as_bytes(),
            self.kind.as_bytes(),
            self.language.as_bytes(),
            self.email.as_bytes(),
            self.phone.as_bytes(),
            self.street.as_bytes(),
            self.postal_code.as_bytes(),
            self.city.as_bytes(),
            self.country.as_bytes(),
            self.since.as_bytes(),
            self.method.as_bytes(),
            self.segment.as_bytes(),
        ]
    }
}

fn customer_id(buf: &mut String, index: usize) {
    buf.clear();
    let _ = write!(buf, "C{:06}", index + 1);
}

/// Draws every customer, hands each row to `row`, and returns what the invoices need.
fn draw_customers(opts: &SampleOptions, mut row: impl FnMut(&CustomerText)) -> Vec<Payer> {
    let mut rng = rng_for(opts.seed, CUSTOMER_STREAM);
    let as_of = opts.as_of.num_days_from_ce();
    let mut text = CustomerText::default();
    let mut payers = Vec::with_capacity(opts.customers);
    for i in 0..opts.customers {
        let payer = draw_customer(&mut rng, i, as_of, &mut text);
        row(&text);
        payers.push(payer);
    }
    payers
}

fn draw_customer(rng: &mut ChaCha8Rng, index: usize, as_of: i32, t: &mut CustomerText) -> Payer {
    let kind = if chance(rng, 0.70) { CustomerKind::B2b } else { CustomerKind::B2c };
    let r = rng.gen::<f64>();
    let (language, culture, country) = if r < 0.60 {
        if chance(rng, 0.35) {
            (Language::Nl, Culture::Flemish, Country::Be)
        } else {
            (Language::Nl, Culture::Dutch, Country::Nl)
        }
    } else if r < 0.85 {
        (Language::Fr, Culture::Walloon, Country::Be)
    } else if chance(rng, 0.55) {
        (Language::En, Culture::English, Country::Nl)
    } else {
        (Language::En, Culture::English, Country::Be)
    };
    let city = pick_city(rng, culture, country);

    let r = rng.gen::<f64>();
    let profile = if r < 0.60 {
        Profile::Good
    } else if r < 0.85 {
        Profile::Average
    } else {
        Profile::Bad
    };
    // Customers who pay badly seldom sign a direct-debit mandate; consumers pay by card more.
    let dd = if profile == Profile::Bad { 0.05 } else { 0.15 };
    let card = if kind == CustomerKind::B2c { 0.12 } else { 0.03 };
    let r = rng.gen::<f64>();
    let method = if r < dd {
        PaymentMethod::DirectDebit
    } else if r < dd + card {
        PaymentMethod::Card
    } else if r < dd + card + 0.01 {
        PaymentMethod::Other
    } else {
        PaymentMethod::Transfer
    };
    let term_days = match kind {
        CustomerKind::B2b if chance(rng, 0.6) => 30,
        CustomerKind::B2b => 14,
        CustomerKind::B2c if chance(rng, 0.15) => 30,
        CustomerKind::B2c => 14,
    };
    let foreign = match (kind, language) {
        (CustomerKind::B2c, _) => 0.0,
        (CustomerKind::B2b, Language::En) => 0.07,
        (CustomerKind::B2b, _) => 0.004,
    };
    let currency = if chance(rng, foreign) {
        if chance(rng, 0.7) {
            "USD"
        } else {
            "GBP"
        }
    } else {
        "EUR"
    };
    let log_amount = match kind {
        CustomerKind::B2b => 6.5 + 1.0 * normal(rng), // median about 665 euro
        CustomerKind::B2c => 4.7 + 0.7 * normal(rng), // median about 110 euro
    };
    let since = as_of - rng.gen_range(365..=3650);
    let weight = exp_det(normal(rng)) * if kind == CustomerKind::B2b { 3.0 } else { 1.0 };
    let segment = if chance(rng, 0.005) {
        match profile {
            Profile::Good => "vip",
            Profile::Bad => "bad-payer",
            Profile::Average => pick(rng, &["vip", "bad-payer"]),
        }
    } else {
        ""
    };

    customer_id(&mut t.id, index);
    t.kind = kind.as_str();
    t.language = language.as_str();
    t.country = match country {
        Country::Nl => "NL",
        Country::Be => "BE",
    };
    t.city = city.name;
    t.method = method.as_str();
    t.segment = segment;
    put_date(&mut t.since, since);
    match kind {
        CustomerKind::B2b => company(rng, culture, city, t),
        CustomerKind::B2c => person(rng, culture, country, t),
    }
    if chance(rng, 0.02) {
        t.email.clear();
    }
    phone(rng, kind, city, &mut t.phone);
    if chance(rng, 0.07) {
        t.phone.clear();
    }
    street(rng, city, &mut t.street);
    postal_code(rng, city, &mut t.postal_code);

    Payer { kind, country, profile, method, term_days, currency, log_amount, since, weight }
}

struct City {
    name: &'static str,
    country: Country,
    /// French-speaking area: French street names and legal forms.
    french: bool,
    /// Where English-speaking expats and firms cluster.
    expat: bool,
    /// Trunk code without the leading 0, for landline numbers.
    area: &'static str,
    /// Rough relative size, so Amsterdam gets more customers than Leeuwarden.
    weight: u32,
    /// NL: the inclusive range of four-digit codes `[low, high]`; BE: the codes themselves.
    codes: &'static [u16],
}

const fn city(
    name: &'static str,
    country: Country,
    french: bool,
    expat: bool,
    area: &'static str,
    weight: u32,
    codes: &'static [u16],
) -> City {
    City { name, country, french, expat, area, weight, codes }
}

use Country::{Be, Nl};
#[rustfmt::skip]
static CITIES: &[City] = &[
    city("Amsterdam", Nl, false, true, "20", 90, &[1011, 1109]),
    city("Rotterdam", Nl, false, true, "10", 65, &[3011, 3089]),
    city("Den Haag", Nl, false, true, "70", 55, &[2491, 2597]),
    city("Utrecht", Nl, false, true, "30", 36, &[3511, 3585]),
    city("Eindhoven", Nl, false, true, "40", 24, &[5611, 5658]),
    city("Groningen", Nl, false, false, "50", 23, &[9711, 9747]),
    city("Tilburg", Nl, false, false, "13", 22, &[5011, 5049]),
    city("Almere", Nl, false, false, "36", 22, &[1311, 1363]),
    city("Breda", Nl, false, false, "76", 19, &[4811, 4839]),
    city("Nijmegen", Nl, false, false, "24", 18, &[6511, 6546]),
    city("Haarlem", Nl, false, false, "23", 16, &[2011, 2037]),
    city("Arnhem", Nl, false, false, "26", 16, &[6811, 6846]),
    city("Zwolle", Nl, false, false, "38", 13, &[8011, 8048]),
    city("Leiden", Nl, false, false, "71", 13, &[2311, 2334]),
    city("Maastricht", Nl, false, false, "43", 12, &[6211, 6229]),
    city("Amersfoort", Nl, false, false, "33", 16, &[3811, 3829]),
    city("Delft", Nl, false, false, "15", 10, &[2611, 2629]),
    city("Apeldoorn", Nl, false, false, "55", 16, &[7311, 7339]),
    city("'s-Hertogenbosch", Nl, false, false, "73", 15, &[5211, 5248]),
    city("Leeuwarden", Nl, false, false, "58", 12, &[8911, 8939]),
    city("Antwerpen", Be, false, true, "3", 50, &[2000, 2018, 2020, 2030, 2050, 2060, 2100, 2140, 2600, 2610]),
    city("Gent", Be, false, false, "9", 26, &[9000, 9030, 9031, 9032, 9040, 9041, 9050]),
    city("Brugge", Be, false, false, "50", 12, &[8000, 8200, 8310]),
    city("Leuven", Be, false, true, "16", 10, &[3000, 3001, 3010, 3012, 3018]),
    city("Mechelen", Be, false, false, "15", 9, &[2800, 2801, 2811, 2812]),
    city("Hasselt", Be, false, false, "11", 8, &[3500, 3510, 3511, 3512]),
    city("Kortrijk", Be, false, false, "56", 8, &[8500, 8501, 8510, 8511]),
    city("Aalst", Be, false, false, "53", 9, &[9300, 9308, 9310, 9320]),
    city("Sint-Niklaas", Be, false, false, "3", 8, &[9100, 9111, 9112]),
    city("Oostende", Be, false, false, "59", 7, &[8400]),
    city("Genk", Be, false, false, "89", 7, &[3600]),
    city("Roeselare", Be, false, false, "51", 6, &[8800]),
    city("Turnhout", Be, false, false, "14", 5, &[2300]),
    city("Brussel", Be, false, false, "2", 8, &[1000, 1020, 1120, 1130]),
    city("Bruxelles", Be, true, true, "2", 25, &[1000, 1020, 1120, 1130]),
    city("Ixelles", Be, true, true, "2", 9, &[1050]),
    city("Schaerbeek", Be, true, false, "2", 10, &[1030]),
    city("Etterbeek", Be, true, true, "2", 5, &[1040]),
    city("Uccle", Be, true, false, "2", 7, &[1180]),
    city("Anderlecht", Be, true, false, "2", 10, &[1070]),
    city("Woluwe-Saint-Lambert", Be, true, true, "2", 5, &[1200]),
    city("Liège", Be, true, false, "4", 20, &[4000, 4020, 4030, 4031, 4032]),
    city("Namur", Be, true, false, "81", 11, &[5000, 5002, 5003, 5004, 5020, 5100]),
    city("Charleroi", Be, true, false, "71", 20, &[6000, 6001, 6010, 6020, 6030, 6040, 6060]),
    city("Mons", Be, true, false, "65", 9, &[7000, 7011, 7012, 7020, 7030]),
    city("Tournai", Be, true, false, "69", 7, &[7500, 7501, 7520, 7530]),
    city("Wavre", Be, true, false, "10", 4, &[1300, 1301]),
    city("Louvain-la-Neuve", Be, true, false, "10", 3, &[1348]),
    city("Verviers", Be, true, false, "87", 5, &[4800, 4801, 4802]),
    city("Nivelles", Be, true, false, "67", 3, &[1400, 1401, 1402]),
    city("Arlon", Be, true, false, "63", 3, &[6700, 6704, 6706]),
];

fn pick_city(rng: &mut ChaCha8Rng, culture: Culture, country: Country) -> &'static City {
    let fits = |c: &City| {
        c.country == country
            && match culture {
                Culture::Dutch | Culture::Flemish => !c.french,
                Culture::Walloon => c.french,
                Culture::English => c.expat,
            }
    };
    let total: u32 = CITIES.iter().filter(|c| fits(c)).map(|c| c.weight).sum();
    let mut r = rng.gen_range(0..total);
    for c in CITIES.iter().filter(|c| fits(c)) {
        if r < c.weight {
            return c;
        }
        r -= c.weight;
    }
    &CITIES[0]
}

#[rustfmt::skip]
const DUTCH_FIRST: &[&str] = &[
    "Jan", "Pieter", "Sanne", "Lotte", "Daan", "Emma", "Bram", "Femke", "Thijs", "Anouk", "Joris",
    "Eva", "Ruben", "Sophie", "Lars", "Iris", "Niels", "Julia", "Tim", "Marloes", "Koen", "Fleur",
    "Wouter", "Esther", "Henk", "Ingrid", "Mohamed", "Fatima", "Kees", "Annemiek",
];
#[rustfmt::skip]
const DUTCH_LAST: &[&str] = &[
    "De Vries", "Jansen", "Van den Berg", "Bakker", "Visser", "Smit", "Meijer", "De Boer", "Mulder",
    "De Groot", "Bos", "Vos", "Peters", "Hendriks", "Van Leeuwen", "Dekker", "Brouwer", "De Wit",
    "Dijkstra", "Smits", "De Graaf", "Van der Meer", "Van der Linden", "Kok", "Van Dijk", "Kuipers",
    "Verhoeven", "Yilmaz", "El Amrani", "Öztürk",
];
#[rustfmt::skip]
const FLEMISH_FIRST: &[&str] = &[
    "Wout", "Lien", "Jens", "Elke", "Pieter-Jan", "Ine", "Stijn", "An", "Bart", "Griet", "Koen",
    "Sofie", "Tom", "Annelies", "Jef", "Hanne", "Dries", "Katrien", "Lotte", "Bram", "Nele",
    "Sander", "Jolien", "Kobe",
];
#[rustfmt::skip]
const FLEMISH_LAST: &[&str] = &[
    "Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems", "Claes", "Goossens", "Wouters",
    "De Smet", "Vermeulen", "Van Damme", "De Clercq", "Hermans", "Aerts", "Pauwels",
    "Van den Broeck", "Verstraete", "Claeys", "Lambrechts", "De Backer", "Van de Velde", "Desmet",
    "Verbruggen",
];
#[rustfmt::skip]
const WALLOON_FIRST: &[&str] = &[
    "Jean", "Marie", "Pierre", "Sophie", "Nicolas", "Julie", "Luc", "Isabelle", "Michel",
    "Nathalie", "Philippe", "Céline", "François", "Amélie", "Olivier", "Camille", "Benoît",
    "Aurélie", "Thomas", "Hélène", "Jérôme", "Élodie", "Jean-Marc", "Anne-Sophie",
];
#[rustfmt::skip]
const WALLOON_LAST: &[&str] = &[
    "Dubois", "Lambert", "Dupont", "Martin", "Simon", "Laurent", "Leclercq", "Lejeune", "Renard",
    "Dumont", "François", "Legrand", "Denis", "Collard", "Fontaine", "Mathieu", "Lemaire", "Henry",
    "Michel", "Gérard", "Lecomte", "Delvaux", "Piron", "Wauters",
];
#[rustfmt::skip]
const ENGLISH_FIRST: &[&str] = &[
    "James", "Emily", "Oliver", "Sarah", "Daniel", "Hannah", "Michael", "Charlotte", "David",
    "Laura", "Thomas", "Rachel", "Andrew", "Jessica", "Matthew", "Lucy", "Ryan", "Chloe", "Priya",
    "Siobhan",
];
#[rustfmt::skip]
const ENGLISH_LAST: &[&str] = &[
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Robinson",
    "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Clarke",
    "O'Brien", "Murphy", "Kelly", "Patel", "McAllister",
];

fn names(culture: Culture) -> (&'static [&'static str], &'static [&'static str]) {
    match culture {
        Culture::Dutch => (DUTCH_FIRST, DUTCH_LAST),
        Culture::Flemish => (FLEMISH_FIRST, FLEMISH_LAST),
        Culture::Walloon => (WALLOON_FIRST, WALLOON_LAST),
        Culture::English => (ENGLISH_FIRST, ENGLISH_LAST),
    }
}

fn person(rng: &mut ChaCha8Rng, culture: Culture, country: Country, t: &mut CustomerText) {
    let (firsts, lasts) = names(culture);
    let first = pick(rng, firsts);
    let last = pick(rng, lasts);
    t.name.clear();
    t.name.push_str(first);
    t.name.push(' ');
    if culture == Culture::Dutch {
        // In the Netherlands the prefix is lower case after a first name: "Jan van den Berg".
        let (prefix, core) = last.rsplit_once(' ').unwrap_or(("", last));
        if !prefix.is_empty() {
            t.name.extend(prefix.chars().flat_map(char::to_lowercase));
            t.name.push(' ');
        }
        t.name.push_str(core);
    } else {
        t.name.push_str(last);
    }

    t.email.clear();
    let r = rng.gen::<f64>();
    if r < 0.7 {
        slug_into(&mut t.email, first, 40);
        t.email.push('.');
        slug_into(&mut t.email, last, 40);
    } else if r < 0.85 {
        slug_into(&mut t.email, first, 1);
        slug_into(&mut t.email, last, 40);
    } else {
        slug_into(&mut t.email, first, 40);
        slug_into(&mut t.email, last, 40);
        let _ = write!(t.email, "{}", rng.gen_range(60..=99));
    }
    t.email.push('@');
    // Mail providers by name, under the reserved `.example` top-level domain (RFC 2606): a
    // sample that reaches a real mail server must not write to someone's real inbox.
    let domains: &[&str] = match (culture, country) {
        (Culture::English, _) => &["gmail.example", "outlook.example", "icloud.example", "hotmail.example"],
        (_, Country::Nl) => &[
            "gmail.example",
            "hotmail.example",
            "outlook.example",
            "ziggo.example",
            "kpnmail.example",
            "xs4all.example",
            "live.example",
        ],
        (_, Country::Be) => &[
            "gmail.example",
            "hotmail.example",
            "telenet.example",
            "skynet.example",
            "outlook.example",
            "proximus.example",
        ],
    };
    t.email.push_str(pick(rng, domains));
}

#[rustfmt::skip]
const NL_TRADES: &[&str] = &[
    "Bakkerij", "Slagerij", "Kapsalon", "Schildersbedrijf", "Aannemersbedrijf", "Transportbedrijf",
    "Drukkerij", "Garage", "Bloemisterij", "Hoveniersbedrijf", "Loodgietersbedrijf",
    "Administratiekantoor", "Installatiebedrijf", "Studio", "Tandartspraktijk", "Fysiotherapie",
    "Autobedrijf", "Timmerbedrijf",
];
#[rustfmt::skip]
const NL_SPECIALTIES: &[&str] = &[
    "Installatietechniek", "Bouw", "Transport", "Advies", "Schilderwerken", "Elektrotechniek",
    "Metaalbewerking", "Dakwerken", "Logistiek", "ICT", "Accountants", "Vastgoed", "Catering",
    "Interieurbouw", "Grondwerken", "Schoonmaak",
];
#[rustfmt::skip]
const NL_PLACES: &[&str] = &[
    "De Linde", "Het Anker", "De Molen", "Groene Hart", "De Eendracht", "Het Gilde", "De Zwaan",
    "Noorderlicht",
];
#[rustfmt::skip]
const FR_TRADES: &[&str] = &[
    "Boulangerie", "Boucherie", "Pâtisserie", "Garage", "Imprimerie", "Menuiserie", "Plomberie",
    "Atelier", "Librairie", "Brasserie", "Pharmacie", "Fleuriste", "Transports", "Cabinet", "Salon",
];
#[rustfmt::skip]
const FR_SPECIALTIES: &[&str] = &[
    "Toitures", "Électricité", "Chauffage", "Construction", "Rénovation", "Conseil", "Jardins",
    "Menuiserie", "Nettoyage", "Informatique",
];
#[rustfmt::skip]
const FR_PLACES: &[&str] = &[
    "du Centre", "de la Gare", "du Parc", "des Ardennes", "de la Meuse", "du Sud", "de la Place",
];
#[rustfmt::skip]
const EN_ADJECTIVES: &[&str] = &[
    "North", "Bright", "Blue", "Silver", "Red", "Green", "Clear", "Open", "Swift", "Golden",
    "Little",
];
#[rustfmt::skip]
const EN_NOUNS: &[&str] = &[
    "Harbour", "Tulip", "Bridge", "Canal", "Lantern", "Oak", "Fox", "River", "Peak", "Windmill",
    "Compass", "Anchor",
];
#[rustfmt::skip]
const EN_FIELDS: &[&str] = &[
    "Consulting", "Digital", "Media", "Events", "Studio", "Labs", "Logistics", "Design", "Trading",
    "Solutions", "Translations", "Recruitment",
];

/// Legal-form suffix, or none for a sole trader; Belgian forms follow the 2019 company code
/// (SRL/BV), with a few pre-2019 SPRL names that still linger in customer files.
fn legal_form(rng: &mut ChaCha8Rng, city: &City) -> &'static str {
    let r = rng.gen::<f64>();
    match (city.country, city.french) {
        (Country::Nl, _) if r < 0.45 => " B.V.",
        (Country::Nl, _) if r < 0.60 => " V.O.F.",
        (Country::Nl, _) => "",
        (Country::Be, false) if r < 0.55 => " BV",
        (Country::Be, false) if r < 0.65 => " NV",
        (Country::Be, false) if r < 0.70 => " CommV",
        (Country::Be, false) => "",
        (Country::Be, true) if r < 0.50 => " SRL",
        (Country::Be, true) if r < 0.60 => " SPRL",
        (Country::Be, true) if r < 0.70 => " SA",
        (Country::Be, true) if r < 0.75 => " SNC",
        (Country::Be, true) => "",
    }
}

fn company(rng: &mut ChaCha8Rng, culture: Culture, city: &City, t: &mut CustomerText) {
    // The name without its legal form goes into `scratch`, which also gives the mail domain.
    let core = &mut t.scratch;
    core.clear();
    let r = rng.gen::<f64>();
    match culture {
        Culture::Dutch | Culture::Flemish => {
            let last = pick(rng, names(culture).1);
            if r < 0.35 {
                let _ = write!(core, "{} {last}", pick(rng, NL_TRADES));
            } else if r < 0.65 {
                let _ = write!(core, "{last} {}", pick(rng, NL_SPECIALTIES));
            } else if r < 0.75 {
                let _ = write!(core, "{last} & Zonen");
            } else if r < 0.88 {
                let other = pick(rng, names(culture).1);
                let _ = write!(core, "{last} & {other} {}", pick(rng, NL_SPECIALTIES));
            } else {
                let _ = write!(core, "{} {}", pick(rng, NL_PLACES), pick(rng, NL_SPECIALTIES));
            }
        }
        Culture::Walloon => {
            let last = pick(rng, WALLOON_LAST);
            if r < 0.35 {
                let _ = write!(core, "{} {last}", pick(rng, FR_TRADES));
            } else if r < 0.55 {
                let _ = write!(core, "{last} {}", pick(rng, FR_SPECIALTIES));
            } else if r < 0.70 {
                let _ = write!(core, "{last} & Fils");
            } else if r < 0.85 {
                let _ = write!(core, "{} {}", pick(rng, FR_TRADES), pick(rng, FR_PLACES));
            } else {
                // Partnerships list their partners with a comma, which the CSV must quote.
                let (a, b) = (pick(rng, WALLOON_LAST), pick(rng, WALLOON_LAST));
                let _ = write!(core, "{last}, {a} & {b} Associés");
                if a == b {
                    core.clear();
                    let _ = write!(core, "{last} & {a} Associés");
                }
            }
        }
        Culture::English => {
            if r < 0.8 {
                let _ = write!(
                    core,
                    "{} {} {}",
                    pick(rng, EN_ADJECTIVES),
                    pick(rng, EN_NOUNS),
                    pick(rng, EN_FIELDS)
                );
            } else {
                let _ = write!(core, "{} {}", pick(rng, ENGLISH_LAST), pick(rng, EN_FIELDS));
            }
        }
    }
    let form = legal_form(rng, city);
    t.name.clear();
    t.name.push_str(core);
    t.name.push_str(form);

    t.email.clear();
    let mailbox: &[&str] = match culture {
        Culture::Dutch | Culture::Flemish => &["info", "administratie", "facturen", "boekhouding"],
        Culture::Walloon => &["info", "comptabilite", "facturation", "contact"],
        Culture::English => &["accounts", "info", "billing", "hello"],
    };
    t.email.push_str(pick(rng, mailbox));
    t.email.push('@');
    domain_slug(&mut t.email, core);
    // The country as a label under the reserved `.example` domain (RFC 2606): never a firm's
    // real mailbox.
    t.email.push_str(match city.country {
        Country::Nl => ".nl.example",
        Country::Be => ".be.example",
    });
}

/// Appends a mail domain label made of whole words of `name`, as many as fit in about 24
/// characters, because a firm registers "vanderlindensmits.nl", not a name cut mid-word.
fn domain_slug(out: &mut String, name: &str) {
    let start = out.len();
    for word in name.split(' ') {
        let before = out.len();
        slug_into(out, word, 40);
        if before > start && out.len() - start > 24 {
            out.truncate(before);
            break;
        }
    }
}

/// Appends up to `max` characters of `s` as a mail-safe lower-case ASCII slug ("Öztürk" becomes
/// "ozturk", "Van den Berg" becomes "vandenberg").
fn slug_into(out: &mut String, s: &str, max: usize) {
    let mut n = 0;
    for c in s.chars() {
        if n == max {
            break;
        }
        let folded = match c {
            'a'..='z' | '0'..='9' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            'à' | 'á' | 'â' | 'ä' | 'ã' | 'À' | 'Á' | 'Â' | 'Ä' => 'a',
            'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => 'e',
            'ì' | 'í' | 'î' | 'ï' | 'Î' | 'Ï' => 'i',
            'ò' | 'ó' | 'ô' | 'ö' | 'õ' | 'Ô' | 'Ö' => 'o',
            'ù' | 'ú' | 'û' | 'ü' | 'Û' | 'Ü' => 'u',
            'ç' | 'Ç' => 'c',
            'ñ' => 'n',
            'ÿ' => 'y',
            _ => continue,
        };
        out.push(folded);
        n += 1;
    }
}

fn phone(rng: &mut ChaCha8Rng, kind: CustomerKind, city: &City, out: &mut String) {
    out.clear();
    let mobile = chance(rng, if kind == CustomerKind::B2c { 0.85 } else { 0.5 });
    // National significant numbers: NL 9 digits (mobile 6 + 8), BE 8 digits for landlines and
    // 9 for mobiles (4[5-9] + 7).
    let (prefix, rest) = match (city.country, mobile) {
        (Country::Nl, true) => ("+316", 8),
        (Country::Nl, false) => ("+31", 9 - city.area.len()),
        (Country::Be, true) => ("+324", 8),
        (Country::Be, false) => ("+32", 8 - city.area.len()),
    };
    out.push_str(prefix);
    if !mobile {
        out.push_str(city.area);
    }
    for k in 0..rest {
        let digit = match (city.country, mobile, k) {
            // Belgian mobile ranges are 045x-049x; subscriber numbers never start with 0 or 1.
            (Country::Be, true, 0) => rng.gen_range(5..=9),
            (Country::Nl, true, _) => rng.gen_range(0..=9),
            (_, false, 0) => rng.gen_range(2..=9),
            _ => rng.gen_range(0..=9),
        };
        out.push(char::from(b'0' + digit as u8));
    }
}

#[rustfmt::skip]
const NL_STREETS: &[&str] = &[
    "Kerkstraat", "Dorpsstraat", "Stationsweg", "Molenweg", "Schoolstraat", "Hoofdstraat",
    "Julianastraat", "Beatrixlaan", "Nieuwstraat", "Industrieweg", "Havenstraat", "Lindelaan",
    "Eikenlaan", "Parklaan", "Marktplein", "Prins Hendrikkade", "Wilhelminastraat",
];
#[rustfmt::skip]
const BE_NL_STREETS: &[&str] = &[
    "Kerkstraat", "Stationsstraat", "Dorpsstraat", "Molenstraat", "Nieuwstraat", "Kapelstraat",
    "Schoolstraat", "Grote Markt", "Brusselsesteenweg", "Kouter", "Veldstraat", "Lindenlaan",
    "Industrieweg",
];
#[rustfmt::skip]
const FR_STREETS: &[&str] = &[
    "Rue de la Station", "Rue de l'Église", "Avenue Louise", "Rue du Moulin", "Chaussée de Namur",
    "Rue Haute", "Place Saint-Lambert", "Rue des Écoles", "Rue de Bruxelles", "Avenue de la Gare",
    "Rue du Pont", "Chaussée de Wavre",
];

fn street(rng: &mut ChaCha8Rng, city: &City, out: &mut String) {
    out.clear();
    let list = match (city.country, city.french) {
        (Country::Nl, _) => NL_STREETS,
        (Country::Be, false) => BE_NL_STREETS,
        (Country::Be, true) => FR_STREETS,
    };
    out.push_str(pick(rng, list));
    let number: u32 = if chance(rng, 0.7) { rng.gen_range(1..=60) } else { rng.gen_range(1..=250) };
    let _ = write!(out, " {number}");
    if chance(rng, 0.08) {
        match city.country {
            Country::Nl => out.push(pick(rng, &['a', 'b', 'c'])),
            Country::Be => {
                let _ = write!(out, " bus {}", rng.gen_range(1..=12));
            }
        }
    }
}

/// Letters Dutch postcodes use (F, I, O, Q, U and Y are left out to avoid confusion).
const NL_POSTCODE_LETTERS: &[u8] = b"ABCDEGHJKLMNPRSTVWXZ";

fn postal_code(rng: &mut ChaCha8Rng, city: &City, out: &mut String) {
    out.clear();
    match city.country {
        Country::Nl => {
            let digits = rng.gen_range(city.codes[0]..=city.codes[1]);
            let letters = loop {
                let a = NL_POSTCODE_LETTERS[rng.gen_range(0..NL_POSTCODE_LETTERS.len() as u32) as usize];
                let b = NL_POSTCODE_LETTERS[rng.gen_range(0..NL_POSTCODE_LETTERS.len() as u32) as usize];
                // SA, SD and SS are never issued.
                if !(a == b'S' && matches!(b, b'A' | b'D' | b'S')) {
                    break [a, b];
                }
            };
            let _ = write!(out, "{digits} {}{}", char::from(letters[0]), char::from(letters[1]));
        }
        Country::Be => {
            let _ = write!(out, "{}", pick(rng, city.codes));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Invoices and payments

#[derive(Debug, Clone, Copy)]
struct PaymentRow {
    /// Days from the common era, which sorts and adds cheaply.
    date: i32,
    year: i32,
    seq: u32,
    cents: i64,
    method: PaymentMethod,
}

struct InvoiceRow<'a> {
    year: i32,
    seq: u32,
    customer: usize,
    issue: i32,
    due: i32,
    currency: &'a str,
    total: Decimal,
    open: Decimal,
    /// Left empty on some rows, as many exports do, so the importer's own arithmetic is used.
    show_open: bool,
    scratch: &'a mut [String; 6],
}

impl InvoiceRow<'_> {
    fn write(&mut self, wtr: &mut csv::Writer<File>) -> Result<(), csv::Error> {
        let [number, customer, issue, due, total, open] = &mut *self.scratch;
        invoice_number(number, self.year, self.seq);
        customer_id(customer, self.customer);
        put_date(issue, self.issue);
        put_date(due, self.due);
        put_amount(total, self.total);
        if self.show_open {
            put_amount(open, self.open);
        } else {
            open.clear();
        }
        wtr.write_record([
            number.as_bytes(),
            customer.as_bytes(),
            issue.as_bytes(),
            due.as_bytes(),
            self.currency.as_bytes(),
            total.as_bytes(),
            open.as_bytes(),
        ])
    }
}

/// Draws the invoices in issue order and, for each, the payments that arrived by `as_of`.
fn draw_invoices(
    opts: &SampleOptions,
    payers: &[Payer],
    mut out: impl FnMut(&mut InvoiceRow<'_>, &[PaymentRow]),
) {
    let mut rng = rng_for(opts.seed, INVOICE_STREAM);
    let as_of = opts.as_of.num_days_from_ce();
    let window_start =
        opts.as_of.checked_sub_months(Months::new(30)).map_or(as_of - 913, |d| d.num_days_from_ce());
    let first_day = |p: &Payer| p.since.max(window_start);

    // Busy customers get many invoices, most get a few; a customer who joined last year gets
    // fewer than one who was there the whole window.
    let mut cumulative = Vec::with_capacity(payers.len());
    let mut sum = 0.0;
    for p in payers {
        let active = f64::from(as_of - first_day(p) + 1) / f64::from(as_of - window_start + 1);
        sum += p.weight * active;
        cumulative.push(sum);
    }
    let mut invoices: Vec<(i32, u32)> = Vec::with_capacity(opts.invoices);
    for i in 0..opts.invoices {
        // With enough invoices, every customer has at least one, so none look abandoned.
        let c = if opts.invoices >= payers.len() && i < payers.len() {
            i
        } else {
            let x = rng.gen::<f64>() * sum;
            cumulative.partition_point(|&w| w <= x).min(payers.len() - 1)
        };
        let lo = first_day(&payers[c]);
        // Invoices go out on working days; redrawing (rather than moving weekend days to
        // Friday) keeps every working day equally busy. Every window is at least a year long,
        // so the retry limit is never what ends the loop in practice.
        let mut day = rng.gen_range(lo..=as_of);
        for _ in 0..16 {
            if weekday(day) < 5 {
                break;
            }
            day = rng.gen_range(lo..=as_of);
        }
        invoices.push((day, c as u32));
    }
    // Numbers run by date within a year, like a real ledger's.
    invoices.sort_unstable();

    let mut scratch: [String; 6] = Default::default();
    let mut pays: Vec<PaymentRow> = Vec::with_capacity(3);
    let mut year = 0;
    let mut seq = 0;
    for &(issue, c) in &invoices {
        let p = &payers[c as usize];
        let issue_year = date(issue).year();
        if issue_year != year {
            year = issue_year;
            seq = 0;
        }
        seq += 1;
        let due = issue + p.term_days;
        let total_cents = draw_total(&mut rng, p);
        let total = Decimal::new(total_cents, 2);

        pays.clear();
        let mut plan = [(0i32, 0i64); 3];
        let n = plan_payments(&mut rng, p, issue, due, total_cents, &mut plan);
        let mut paid = Decimal::ZERO;
        for &(d, cents) in &plan[..n] {
            let d = match p.method {
                PaymentMethod::DirectDebit | PaymentMethod::Card => next_working_day(d.max(issue)),
                PaymentMethod::Transfer | PaymentMethod::Other => {
                    spread_off_weekend(&mut rng, d.max(issue), issue)
                }
            };
            if d > as_of {
                break;
            }
            paid += Decimal::new(cents, 2);
            pays.push(PaymentRow { date: d, year, seq, cents, method: p.method });
        }
        let show_open = !chance(&mut rng, 0.2);
        let mut row = InvoiceRow {
            year,
            seq,
            customer: c as usize,
            issue,
            due,
            currency: p.currency,
            total,
            open: total - paid,
            show_open,
            scratch: &mut scratch,
        };
        out(&mut row, &pays);
    }
}

/// An invoice total in cents: a net price near the customer's usual size, often a round
/// number, plus VAT, which is what makes real totals look like 605.00 or 1149.50.
fn draw_total(rng: &mut ChaCha8Rng, p: &Payer) -> i64 {
    let (low, high) = match p.kind {
        CustomerKind::B2b => (25.0, 25_000.0),
        CustomerKind::B2c => (25.0, 5_000.0),
    };
    let gross = exp_det(p.log_amount + 0.5 * normal(rng)).clamp(low, high);
    let vat: i64 = if p.currency != "EUR" {
        0 // export outside the EU: no Dutch or Belgian VAT
    } else if chance(rng, 0.85) {
        21
    } else {
        match p.country {
            Country::Nl => 9,
            Country::Be => 6,
        }
    };
    let net = gross * 100.0 / (100 + vat) as f64;
    let r = rng.gen::<f64>();
    let net_cents = if r < 0.5 {
        (net.round() as i64) * 100
    } else if r < 0.7 && net > 100.0 {
        ((net / 10.0).round() as i64) * 1000
    } else {
        (net * 100.0).round() as i64
    };
    // Keep the total, not just the estimate, inside the bounds; whole euros at the edges.
    let min_net = ((low as i64 * 100 * 100 + 99 + vat) / (100 + vat) + 99) / 100 * 100;
    let max_net = (high as i64 * 100 * 100) / (100 + vat) / 100 * 100;
    let net_cents = net_cents.clamp(min_net, max_net);
    (net_cents * (100 + vat) + 50) / 100
}

/// Fills `plan` with (day, cents) pairs for every payment this invoice will ever get, in date
/// order, and returns how many; the caller drops those after `as_of`. Amounts always sum to at
/// most `total`, and to exactly `total` unless the customer stops paying.
fn plan_payments(
    rng: &mut ChaCha8Rng,
    p: &Payer,
    issue: i32,
    due: i32,
    total: i64,
    plan: &mut [(i32, i64); 3],
) -> usize {
    match p.method {
        PaymentMethod::DirectDebit => {
            plan[0] = (due, total);
            return 1;
        }
        PaymentMethod::Card => {
            plan[0] = (issue + rng.gen_range(0..=2), total);
            return 1;
        }
        PaymentMethod::Transfer | PaymentMethod::Other => {}
    }
    let (never, partial) = match p.profile {
        Profile::Good => (0.003, 0.05),
        Profile::Average => (0.015, 0.09),
        Profile::Bad => (0.10, 0.20),
    };
    if chance(rng, never) {
        // Disputed or simply ignored; some bad payers pay a part and then stop.
        if p.profile == Profile::Bad && chance(rng, 0.35) {
            let part = partial_amount(rng, total);
            plan[0] = (due + rng.gen_range(10..=60), part);
            return 1;
        }
        return 0;
    }
    let r = rng.gen::<f64>();
    let delay = match p.profile {
        // Good payers pay on the due date or before it, with the odd few days' slip: enough
        // of them qualify as VIP (at most 10% of invoices late at all) for the segment to show.
        Profile::Good if r < 0.84 => -rng.gen_range(0..=10),
        Profile::Good if r < 0.95 => rng.gen_range(1..=4),
        Profile::Good if r < 0.99 => rng.gen_range(5..=12),
        Profile::Good => rng.gen_range(13..=30),
        Profile::Average if r < 0.25 => rng.gen_range(-5..=2),
        Profile::Average if r < 0.80 => rng.gen_range(3..=20),
        Profile::Average if r < 0.95 => rng.gen_range(21..=40),
        Profile::Average => rng.gen_range(41..=75),
        Profile::Bad if r < 0.15 => rng.gen_range(0..=10),
        Profile::Bad if r < 0.35 => rng.gen_range(11..=19),
        Profile::Bad if r < 0.85 => rng.gen_range(20..=90),
        Profile::Bad => rng.gen_range(91..=180),
    };
    let settled = due + delay;
    if !chance(rng, partial) {
        plan[0] = (settled, total);
        return 1;
    }
    // Instalments: the last one settles the invoice, earlier ones came a week or more apart.
    let n = if chance(rng, 0.7) { 2 } else { 3 };
    let mut remaining = total;
    let mut day = settled;
    for k in (0..n).rev() {
        plan[k].0 = day;
        day -= rng.gen_range(7..=30);
    }
    for slot in plan.iter_mut().take(n - 1) {
        let part = partial_amount(rng, remaining);
        slot.1 = part;
        remaining -= part;
    }
    plan[n - 1].1 = remaining;
    n
}

/// A part payment of 30–60% of `of`, rounded the way people round when they pay a part,
/// and always leaving at least a cent to pay.
fn partial_amount(rng: &mut ChaCha8Rng, of: i64) -> i64 {
    let raw = (of as f64 * (0.3 + 0.3 * rng.gen::<f64>())) as i64;
    let unit = if of > 20_000 {
        1_000
    } else if of > 2_000 {
        100
    } else {
        1
    };
    let rounded = (raw / unit) * unit;
    let part = if rounded > 0 { rounded } else { raw };
    part.clamp(1, of - 1)
}

// ---------------------------------------------------------------------------------------------
// Small helpers

fn chance(rng: &mut ChaCha8Rng, p: f64) -> bool {
    rng.gen::<f64>() < p
}

fn pick<T: Copy>(rng: &mut ChaCha8Rng, xs: &[T]) -> T {
    xs[rng.gen_range(0..xs.len() as u32) as usize]
}

/// A standard normal from six uniforms (Irwin–Hall): plain arithmetic, so it is bit-identical on
/// every platform, and tails beyond ±4.2σ cannot occur, which suits amounts that get clamped.
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let mut s = 0.0;
    for _ in 0..6 {
        s += rng.gen::<f64>();
    }
    (s - 3.0) * std::f64::consts::SQRT_2
}

/// `e^x` from basic arithmetic only, for the same reason as [`normal`]: libm's `exp` may differ
/// in the last bit between platforms, and a rounding boundary would then change the bytes.
fn exp_det(x: f64) -> f64 {
    let x = x.clamp(-700.0, 700.0);
    let k = (x / std::f64::consts::LN_2).round();
    let r = x - k * std::f64::consts::LN_2;
    let mut term = 1.0;
    let mut sum = 1.0;
    for i in 1..=16 {
        term *= r / f64::from(i);
        sum += term;
    }
    sum * f64::from_bits(((1023 + k as i64) as u64) << 52)
}

/// 0 = Monday … 6 = Sunday, for days counted by `num_days_from_ce` (day 1 was a Monday).
fn weekday(day: i32) -> i32 {
    (day - 1).rem_euclid(7)
}

/// Banks credit transfers on working days; a payment "made" on a Saturday arrives on Monday.
fn next_working_day(day: i32) -> i32 {
    match weekday(day) {
        5 => day + 2,
        6 => day + 1,
        _ => day,
    }
}

/// Collections and card settlements land on the next working day, but people who pay by
/// transfer simply pay on some weekday around then: moving every weekend day to Monday would
/// make Mondays three times as busy as other days in the bank export. A Saturday or Sunday
/// becomes one of the five weekdays around it (never before the invoice was issued).
fn spread_off_weekend(rng: &mut ChaCha8Rng, day: i32, issue: i32) -> i32 {
    let offsets: [i32; 5] = match weekday(day) {
        5 => [-2, -1, 2, 3, 4],
        6 => [-3, -2, 1, 2, 3],
        _ => return day,
    };
    let moved = day + pick(rng, &offsets);
    if moved < issue {
        next_working_day(day)
    } else {
        moved
    }
}

fn date(day: i32) -> NaiveDate {
    // Every day handled here lies within a few years of a validated `as_of`.
    NaiveDate::from_num_days_from_ce_opt(day).unwrap_or(NaiveDate::MIN)
}

fn put_date(buf: &mut String, day: i32) {
    let d = date(day);
    buf.clear();
    let (y, m, dd) = (d.year() as u32, d.month(), d.day());
    for v in [y / 1000 % 10, y / 100 % 10, y / 10 % 10, y % 10] {
        buf.push(char::from(b'0' + v as u8));
    }
    buf.push('-');
    buf.push(char::from(b'0' + (m / 10) as u8));
    buf.push(char::from(b'0' + (m % 10) as u8));
    buf.push('-');
    buf.push(char::from(b'0' + (dd / 10) as u8));
    buf.push(char::from(b'0' + (dd % 10) as u8));
}

fn put_amount(buf: &mut String, amount: Decimal) {
    buf.clear();
    let mut a = amount;
    a.rescale(2);
    let _ = write!(buf, "{a}");
}

fn invoice_number(buf: &mut String, year: i32, seq: u32) {
    buf.clear();
    let _ = write!(buf, "{year:04}-{seq:06}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{parse_amount, parse_date};
    use std::collections::{HashMap, HashSet};

    fn opts(customers: usize, invoices: usize, seed: u64) -> SampleOptions {
        SampleOptions { customers, invoices, seed, as_of: NaiveDate::from_ymd_opt(2026, 3, 31).unwrap() }
    }

    fn read(dir: &Path, name: &str) -> Vec<HashMap<String, String>> {
        let mut rdr = csv::Reader::from_path(dir.join(name)).unwrap();
        let headers = rdr.headers().unwrap().clone();
        rdr.records()
            .map(|r| {
                let r = r.unwrap();
                headers.iter().zip(r.iter()).map(|(h, v)| (h.to_string(), v.to_string())).collect()
            })
            .collect()
    }

    fn bytes(dir: &Path) -> Vec<Vec<u8>> {
        ["customers.csv", "invoices.csv", "payments.csv"]
            .iter()
            .map(|f| std::fs::read(dir.join(f)).unwrap())
            .collect()
    }

    #[test]
    fn same_arguments_give_identical_bytes_and_another_seed_does_not() {
        let (a, b, c) =
            (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let sa = generate(&opts(300, 2_000, 7), a.path()).unwrap();
        let sb = generate(&opts(300, 2_000, 7), b.path()).unwrap();
        generate(&opts(300, 2_000, 8), c.path()).unwrap();
        assert_eq!(sa, sb);
        let (ba, bb, bc) = (bytes(a.path()), bytes(b.path()), bytes(c.path()));
        assert_eq!(ba, bb);
        for (x, y) in ba.iter().zip(&bc) {
            assert_ne!(x, y);
        }
        // A second run over existing files replaces them and leaves no temporary files behind.
        generate(&opts(300, 2_000, 7), a.path()).unwrap();
        assert_eq!(bytes(a.path()), bb);
        let names: Vec<_> = std::fs::read_dir(a.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
    }

    #[test]
    fn files_follow_the_export_format_and_agree_with_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let o = opts(400, 5_000, 42);
        let summary = generate(&o, &dir.path().join("nested/out")).unwrap();
        let dir = dir.path().join("nested/out");
        let customers = read(&dir, "customers.csv");
        let invoices = read(&dir, "invoices.csv");
        let payments = read(&dir, "payments.csv");
        assert_eq!(customers.len(), 400);
        assert_eq!(invoices.len(), 5_000);
        assert_eq!(payments.len(), summary.payments);
        assert_eq!(summary.customers, 400);
        assert_eq!(summary.invoices, 5_000);

        let ids: HashSet<&str> = customers.iter().map(|c| c["customer_id"].as_str()).collect();
        assert_eq!(ids.len(), 400);
        for c in &customers {
            assert!(matches!(c["kind"].as_str(), "b2b" | "b2c"));
            assert!(c["language"].parse::<Language>().is_ok());
            assert!(c["payment_method"].parse::<PaymentMethod>().is_ok());
            assert!(parse_date(&c["customer_since"]).unwrap() < o.as_of);
            assert!(matches!(c["segment"].as_str(), "" | "vip" | "bad-payer"));
            let email = &c["email"];
            assert!(email.is_empty() || email.ends_with(".example"), "not a reserved domain: {email}");
            let phone = &c["phone"];
            if !phone.is_empty() {
                let digits = &phone[1..];
                assert!(phone.starts_with("+31") || phone.starts_with("+32"), "{phone}");
                assert!(digits.bytes().all(|b| b.is_ascii_digit()), "{phone}");
                // NL: 31 + 9 digits; BE: 32 + 8 (landline, Liège's 04 included) or 9 (mobile).
                let ok = if phone.starts_with("+31") {
                    digits.len() == 11
                } else {
                    digits.len() == 10 || (digits.len() == 11 && phone.starts_with("+324"))
                };
                assert!(ok, "{phone}");
            }
            let pc = c["postal_code"].as_bytes();
            match c["country"].as_str() {
                "NL" => assert!(
                    pc.len() == 7
                        && pc[..4].iter().all(u8::is_ascii_digit)
                        && pc[4] == b' '
                        && pc[5..].iter().all(u8::is_ascii_uppercase),
                    "{}",
                    c["postal_code"]
                ),
                "BE" => assert!(pc.len() == 4 && pc.iter().all(u8::is_ascii_digit)),
                other => panic!("country {other}"),
            }
            let email = &c["email"];
            assert!(email.is_empty() || (email.contains('@') && email.is_ascii()), "{email}");
        }

        let mut numbers = HashSet::new();
        let mut totals = HashMap::new();
        for i in &invoices {
            assert!(numbers.insert(i["invoice_number"].clone()));
            assert!(ids.contains(i["customer_id"].as_str()), "{}", i["customer_id"]);
            let issue = parse_date(&i["issue_date"]).unwrap();
            let due = parse_date(&i["due_date"]).unwrap();
            assert!(issue <= o.as_of);
            assert!(issue.weekday().num_days_from_monday() < 5, "issued on a weekend");
            assert!(i["invoice_number"].starts_with(&issue.year().to_string()));
            assert!(matches!((due - issue).num_days(), 14 | 30));
            let total = parse_amount(&i["total"]).unwrap();
            assert_eq!(total.scale(), 2, "{}", i["total"]);
            assert!(total >= Decimal::new(2_500, 2) && total <= Decimal::new(2_500_000, 2));
            totals.insert(i["invoice_number"].clone(), (issue, total, i["open_amount"].clone()));
        }

        let mut paid: HashMap<&str, Decimal> = HashMap::new();
        let mut last_date = None;
        for p in &payments {
            let (issue, _, _) = totals[&p["invoice_number"]];
            let d = parse_date(&p["date"]).unwrap();
            assert!(d >= issue && d <= o.as_of, "{d} outside {issue}..{}", o.as_of);
            assert!(d.weekday().num_days_from_monday() < 5, "money arrives on working days");
            assert!(last_date.is_none_or(|l| l <= d), "payments are sorted by date");
            last_date = Some(d);
            let amount = parse_amount(&p["amount"]).unwrap();
            assert!(amount > Decimal::ZERO);
            assert_eq!(amount.scale(), 2);
            *paid.entry(p["invoice_number"].as_str()).or_default() += amount;
        }
        let mut open = 0;
        let mut empty_open = 0;
        for (number, (_, total, open_col)) in &totals {
            let p = paid.get(number.as_str()).copied().unwrap_or_default();
            assert!(p <= *total, "{number}: paid {p} of {total}");
            if p < *total {
                open += 1;
            }
            if open_col.is_empty() {
                empty_open += 1;
            } else {
                assert_eq!(parse_amount(open_col).unwrap(), *total - p, "{number}");
            }
        }
        assert_eq!(open, summary.open_invoices);
        let share = empty_open as f64 / invoices.len() as f64;
        assert!((0.15..0.25).contains(&share), "empty open_amount share {share}");
    }

    #[test]
    fn customer_mix_matches_the_brief() {
        let o = opts(2_000, 1, 3);
        let mut langs = HashMap::new();
        let mut b2b = 0;
        let mut french_in_nl = 0;
        let payers = draw_customers(&o, |t| {
            if t.language == "fr" && t.country != "BE" {
                french_in_nl += 1;
            }
            *langs.entry(t.language).or_insert(0) += 1;
            if t.kind == "b2b" {
                b2b += 1;
            }
        });
        let share =
            |p: Profile| payers.iter().filter(|x| x.profile == p).count() as f64 / payers.len() as f64;
        assert!((0.55..0.65).contains(&share(Profile::Good)), "{}", share(Profile::Good));
        assert!((0.21..0.29).contains(&share(Profile::Average)));
        assert!((0.12..0.18).contains(&share(Profile::Bad)));
        for l in ["nl", "fr", "en"] {
            assert!(langs.get(l).copied().unwrap_or(0) > 100, "{l}: {langs:?}");
        }
        assert!((1_300..1_500).contains(&b2b), "{b2b}");
        // French speakers live in Belgium; NL is only reached through nl and en.
        assert!(french_in_nl == 0, "{french_in_nl}");
    }

    #[test]
    fn every_profile_has_overdue_open_invoices_and_some_are_not_yet_due() {
        let dir = tempfile::tempdir().unwrap();
        let o = opts(1_500, 20_000, 11);
        generate(&o, dir.path()).unwrap();
        let payers = draw_customers(&o, |_| {});
        let mut paid: HashMap<String, Decimal> = HashMap::new();
        let mut partial_invoices: HashMap<String, usize> = HashMap::new();
        for p in read(dir.path(), "payments.csv") {
            *paid.entry(p["invoice_number"].clone()).or_default() += parse_amount(&p["amount"]).unwrap();
            *partial_invoices.entry(p["invoice_number"].clone()).or_default() += 1;
        }
        let mut overdue = HashMap::new();
        let mut not_yet_due = 0;
        for i in read(dir.path(), "invoices.csv") {
            let total = parse_amount(&i["total"]).unwrap();
            let open = total - paid.get(&i["invoice_number"]).copied().unwrap_or_default();
            let due = parse_date(&i["due_date"]).unwrap();
            let idx: usize = i["customer_id"][1..].parse::<usize>().unwrap() - 1;
            if open > Decimal::ZERO && due < o.as_of {
                *overdue.entry(payers[idx].profile).or_insert(0) += 1;
            }
            if due > o.as_of {
                not_yet_due += 1;
            }
        }
        for p in [Profile::Good, Profile::Average, Profile::Bad] {
            assert!(overdue.get(&p).copied().unwrap_or(0) > 0, "{p:?}: {overdue:?}");
        }
        assert!(not_yet_due > 100, "{not_yet_due}");
        let split = partial_invoices.values().filter(|&&n| n > 1).count();
        let share = split as f64 / partial_invoices.len() as f64;
        assert!((0.04..0.12).contains(&share), "split payments {share}");
    }

    #[test]
    fn fewer_invoices_than_customers_and_bad_options() {
        let dir = tempfile::tempdir().unwrap();
        let s = generate(&opts(50, 3, 1), dir.path()).unwrap();
        assert_eq!(read(dir.path(), "invoices.csv").len(), 3);
        assert_eq!(s.customers, 50);
        assert!(matches!(generate(&opts(0, 3, 1), dir.path()), Err(SampleError::Options(_))));
        assert!(matches!(generate(&opts(3, 0, 1), dir.path()), Err(SampleError::Options(_))));
        // A file where the directory should be: the error names the path.
        let blocker = dir.path().join("blocker");
        std::fs::write(&blocker, b"x").unwrap();
        let err = generate(&opts(3, 3, 1), &blocker.join("sub")).unwrap_err();
        assert!(err.to_string().contains("blocker"), "{err}");
    }

    #[test]
    fn helpers_agree_with_chrono_and_libm() {
        for d in 738_000..738_030 {
            let want = date(d).weekday().num_days_from_monday() as i32;
            assert_eq!(weekday(d), want);
            let mut s = String::new();
            put_date(&mut s, d);
            assert_eq!(s, date(d).format("%Y-%m-%d").to_string());
        }
        for x in [-3.0, -0.5, 0.0, 0.7, 4.7, 6.5, 10.1] {
            let rel = (exp_det(x) - f64::exp(x)).abs() / f64::exp(x);
            assert!(rel < 1e-14, "{x}: {rel}");
        }
        let mut s = String::new();
        slug_into(&mut s, "Öztürk & Céline O'Brien", 40);
        assert_eq!(s, "ozturkcelineobrien");
    }
}
