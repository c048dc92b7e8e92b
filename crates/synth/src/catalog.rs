//! Curated clinical catalogues: ICD-10 conditions, medicinal products, vaccines (CVX), procedures
//! (ICD-9 PL), allergens (SNOMED CT) and specialist clinics. The laboratory tests and panels are
//! the terminology crate's ([`ikp_terminology::laboratory`]), shared with the national demo.

use super::pesel::Sex;

/// How a medicinal product is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Oral,
    Inhaled,
    Nasal,
    Topical,
    Eye,
    Subcutaneous,
}

impl Route {
    /// SNOMED CT route code and display.
    pub fn snomed(self) -> (&'static str, &'static str) {
        match self {
            Route::Oral => ("26643006", "Oral route"),
            Route::Inhaled => ("447694001", "Respiratory tract route"),
            Route::Nasal => ("46713006", "Nasal route"),
            Route::Topical => ("6064005", "Topical route"),
            Route::Eye => ("54485002", "Ophthalmic route"),
            Route::Subcutaneous => ("34206005", "Subcutaneous route"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Long-term therapy, renewed at follow-up visits.
    Chronic,
    /// A short course of `days`.
    Course(u32),
    /// An antibiotic course of `days` (prescription valid 7 days).
    Antibiotic(u32),
    /// Taken when needed.
    AsNeeded,
}

/// A medicinal product as prescribed (the name a Polish prescription would carry).
#[derive(Debug, Clone, Copy)]
pub struct Med {
    pub product: &'static str,
    pub atc: &'static str,
    pub substance: &'static str,
    /// Dose units per package.
    pub pack: u32,
    /// Dose units per administration.
    pub dose: u32,
    /// Administrations per `period` days.
    pub frequency: u32,
    pub period: u32,
    /// UCUM code and Polish abbreviation of the dose unit.
    pub unit: (&'static str, &'static str),
    pub instruction: &'static str,
    pub route: Route,
    pub usage: Use,
}

const TAB: (&str, &str) = ("{tbl}", "tabl.");
const CAPS: (&str, &str) = ("{caps}", "kaps.");
const PUFF: (&str, &str) = ("{puff}", "dawka");
const DROP: (&str, &str) = ("[drp]", "kropla");
const APPL: (&str, &str) = ("{appl}", "aplikacja");
const AMP: (&str, &str) = ("{amp}", "amp.");

#[allow(clippy::too_many_arguments)]
const fn med(
    product: &'static str,
    atc: &'static str,
    substance: &'static str,
    pack: u32,
    dose: u32,
    frequency: u32,
    unit: (&'static str, &'static str),
    instruction: &'static str,
    route: Route,
    usage: Use,
) -> Med {
    Med { product, atc, substance, pack, dose, frequency, period: 1, unit, instruction, route, usage }
}

use Route::{Eye, Inhaled, Nasal, Oral, Subcutaneous, Topical};
use Use::{Antibiotic, AsNeeded, Chronic, Course};

pub const MEDS: &[Med] = &[
    med(
        "Amlozek 5 mg, tabletki",
        "C08CA01",
        "amlodypina",
        30,
        1,
        1,
        TAB,
        "1 tabletka raz dziennie rano",
        Oral,
        Chronic,
    ),
    med("Polpril 5 mg, kapsułki", "C09AA05", "ramipryl", 28, 1, 1, CAPS, "1 kapsułka raz dziennie rano", Oral, Chronic),
    med(
        "Bisocard 5 mg, tabletki",
        "C07AB07",
        "bisoprolol",
        28,
        1,
        1,
        TAB,
        "1 tabletka raz dziennie rano",
        Oral,
        Chronic,
    ),
    med(
        "Indapen SR 1,5 mg, tabletki o przedłużonym uwalnianiu",
        "C03BA11",
        "indapamid",
        30,
        1,
        1,
        TAB,
        "1 tabletka raz dziennie rano",
        Oral,
        Chronic,
    ),
    med("Lorista 50 mg, tabletki", "C09CA01", "losartan", 28, 1, 1, TAB, "1 tabletka raz dziennie", Oral, Chronic),
    med("Atoris 20 mg, tabletki", "C10AA05", "atorwastatyna", 30, 1, 1, TAB, "1 tabletka wieczorem", Oral, Chronic),
    med("Suvardio 10 mg, tabletki", "C10AA07", "rosuwastatyna", 28, 1, 1, TAB, "1 tabletka wieczorem", Oral, Chronic),
    med(
        "Metformax 850 mg, tabletki",
        "A10BA02",
        "metformina",
        60,
        1,
        2,
        TAB,
        "1 tabletka 2 razy dziennie po posiłku",
        Oral,
        Chronic,
    ),
    med(
        "Diaprel MR 60 mg, tabletki o zmodyfikowanym uwalnianiu",
        "A10BB09",
        "gliklazyd",
        30,
        1,
        1,
        TAB,
        "1 tabletka raz dziennie do śniadania",
        Oral,
        Chronic,
    ),
    med(
        "Jardiance 10 mg, tabletki",
        "A10BK03",
        "empagliflozyna",
        30,
        1,
        1,
        TAB,
        "1 tabletka raz dziennie",
        Oral,
        Chronic,
    ),
    med(
        "Euthyrox N 50, tabletki",
        "H03AA01",
        "lewotyroksyna",
        50,
        1,
        1,
        TAB,
        "1 tabletka rano na czczo",
        Oral,
        Chronic,
    ),
    med(
        "Polocard 75 mg, tabletki dojelitowe",
        "B01AC06",
        "kwas acetylosalicylowy",
        60,
        1,
        1,
        TAB,
        "1 tabletka raz dziennie po obiedzie",
        Oral,
        Chronic,
    ),
    med(
        "Xarelto 20 mg, tabletki",
        "B01AF01",
        "rywaroksaban",
        28,
        1,
        1,
        TAB,
        "1 tabletka raz dziennie z posiłkiem",
        Oral,
        Chronic,
    ),
    med("Eliquis 5 mg, tabletki", "B01AF02", "apiksaban", 60, 1, 2, TAB, "1 tabletka 2 razy dziennie", Oral, Chronic),
    med(
        "Furosemidum Polpharma 40 mg, tabletki",
        "C03CA01",
        "furosemid",
        30,
        1,
        1,
        TAB,
        "1 tabletka rano",
        Oral,
        Chronic,
    ),
    med(
        "Spironol 25 mg, tabletki",
        "C03DA01",
        "spironolakton",
        20,
        1,
        1,
        TAB,
        "1 tabletka raz dziennie",
        Oral,
        Chronic,
    ),
    med(
        "Symbicort Turbuhaler 160/4,5 mcg, proszek do inhalacji",
        "R03AK07",
        "budezonid + formoterol",
        120,
        1,
        2,
        PUFF,
        "1 inhalacja 2 razy dziennie",
        Inhaled,
        Chronic,
    ),
    med(
        "Ventolin 100 mcg, aerozol inhalacyjny",
        "R03AC02",
        "salbutamol",
        200,
        2,
        1,
        PUFF,
        "2 wdechy doraźnie w duszności",
        Inhaled,
        AsNeeded,
    ),
    med(
        "Spiriva Respimat 2,5 mcg, roztwór do inhalacji",
        "R03BB04",
        "tiotropium",
        60,
        2,
        1,
        PUFF,
        "2 inhalacje raz dziennie",
        Inhaled,
        Chronic,
    ),
    med(
        "Controloc 20 mg, tabletki dojelitowe",
        "A02BC02",
        "pantoprazol",
        28,
        1,
        1,
        TAB,
        "1 tabletka rano przed śniadaniem",
        Oral,
        Chronic,
    ),
    med(
        "Sertagen 50 mg, tabletki",
        "N06AB06",
        "sertralina",
        28,
        1,
        1,
        TAB,
        "1 tabletka raz dziennie rano",
        Oral,
        Chronic,
    ),
    med("Escitil 10 mg, tabletki", "N06AB10", "escitalopram", 28, 1, 1, TAB, "1 tabletka raz dziennie", Oral, Chronic),
    med(
        "Hydroxyzinum VP 25 mg, tabletki",
        "N05BB01",
        "hydroksyzyna",
        30,
        1,
        1,
        TAB,
        "1 tabletka doraźnie w niepokoju",
        Oral,
        AsNeeded,
    ),
    med(
        "Sumamigren 50 mg, tabletki",
        "N02CC01",
        "sumatryptan",
        6,
        1,
        1,
        TAB,
        "1 tabletka w napadzie migreny",
        Oral,
        AsNeeded,
    ),
    med(
        "Tamsudil 0,4 mg, kapsułki",
        "G04CA02",
        "tamsulozyna",
        30,
        1,
        1,
        CAPS,
        "1 kapsułka raz dziennie po śniadaniu",
        Oral,
        Chronic,
    ),
    Med {
        product: "Ostemax 70 comfort, tabletki",
        atc: "M05BA04",
        substance: "kwas alendronowy",
        pack: 4,
        dose: 1,
        frequency: 1,
        period: 7,
        unit: TAB,
        instruction: "1 tabletka raz w tygodniu na czczo",
        route: Oral,
        usage: Chronic,
    },
    med(
        "Madopar 125, kapsułki",
        "N04BA02",
        "lewodopa + benserazyd",
        100,
        1,
        3,
        CAPS,
        "1 kapsułka 3 razy dziennie",
        Oral,
        Chronic,
    ),
    med("Donepex 10 mg, tabletki", "N06DA02", "donepezyl", 28, 1, 1, TAB, "1 tabletka wieczorem", Oral, Chronic),
    med(
        "Tardyferon 80 mg, tabletki",
        "B03AA07",
        "siarczan żelaza",
        30,
        1,
        1,
        TAB,
        "1 tabletka raz dziennie",
        Oral,
        Chronic,
    ),
    med(
        "Detralex 1000 mg, tabletki",
        "C05CA53",
        "diosmina + hesperydyna",
        30,
        1,
        1,
        TAB,
        "1 tabletka raz dziennie",
        Oral,
        Chronic,
    ),
    med("Allertec 10 mg, tabletki", "R06AE07", "cetyryzyna", 30, 1, 1, TAB, "1 tabletka wieczorem", Oral, Chronic),
    med(
        "Avamys 27,5 mcg, aerozol do nosa",
        "R01AD12",
        "flutykazon",
        120,
        2,
        1,
        PUFF,
        "2 dawki do każdego otworu nosowego raz dziennie",
        Nasal,
        Chronic,
    ),
    med(
        "Daivobet, maść",
        "D05AX52",
        "kalcypotriol + betametazon",
        30,
        1,
        1,
        APPL,
        "cienką warstwę na zmiany raz dziennie",
        Topical,
        Chronic,
    ),
    med(
        "Elocom 0,1%, krem",
        "D07AC13",
        "mometazon",
        30,
        1,
        1,
        APPL,
        "cienką warstwę na zmiany raz dziennie",
        Topical,
        Chronic,
    ),
    med(
        "Xalatan 50 mcg/ml, krople do oczu",
        "S01EE01",
        "latanoprost",
        80,
        1,
        1,
        DROP,
        "1 kropla do każdego oka wieczorem",
        Eye,
        Chronic,
    ),
    med(
        "Debretat 100 mg, tabletki",
        "A03AA05",
        "trimebutyna",
        30,
        1,
        3,
        TAB,
        "1 tabletka 3 razy dziennie przed posiłkiem",
        Oral,
        Chronic,
    ),
    med(
        "Ibuprofen Polfarmex 400 mg, tabletki",
        "M01AE01",
        "ibuprofen",
        20,
        1,
        3,
        TAB,
        "1 tabletka 3 razy dziennie po posiłku",
        Oral,
        Course(5),
    ),
    med(
        "Pyralgina 500 mg, tabletki",
        "N02BB02",
        "metamizol",
        12,
        1,
        3,
        TAB,
        "1 tabletka do 3 razy dziennie",
        Oral,
        Course(3),
    ),
    med(
        "Paracetamol Polpharma 500 mg, tabletki",
        "N02BE01",
        "paracetamol",
        20,
        1,
        3,
        TAB,
        "1 tabletka 3 razy dziennie",
        Oral,
        Course(5),
    ),
    med(
        "Augmentin 875 mg + 125 mg, tabletki powlekane",
        "J01CR02",
        "amoksycylina + kwas klawulanowy",
        14,
        1,
        2,
        TAB,
        "1 tabletka co 12 godzin przez 7 dni",
        Oral,
        Antibiotic(7),
    ),
    med(
        "Duomox 1000 mg, tabletki",
        "J01CA04",
        "amoksycylina",
        20,
        1,
        2,
        TAB,
        "1 tabletka co 12 godzin przez 10 dni",
        Oral,
        Antibiotic(10),
    ),
    med(
        "Klabax 500 mg, tabletki powlekane",
        "J01FA09",
        "klarytromycyna",
        14,
        1,
        2,
        TAB,
        "1 tabletka co 12 godzin przez 7 dni",
        Oral,
        Antibiotic(7),
    ),
    med(
        "Furagin 50 mg, tabletki",
        "J01XE03",
        "furazydyna",
        30,
        2,
        3,
        TAB,
        "2 tabletki 3 razy dziennie przez 5 dni",
        Oral,
        Antibiotic(5),
    ),
    med(
        "Cipronex 500 mg, tabletki powlekane",
        "J01MA02",
        "cyprofloksacyna",
        10,
        1,
        2,
        TAB,
        "1 tabletka co 12 godzin przez 5 dni",
        Oral,
        Antibiotic(5),
    ),
    med(
        "Sumamed 500 mg, tabletki",
        "J01FA10",
        "azytromycyna",
        3,
        1,
        1,
        TAB,
        "1 tabletka raz dziennie przez 3 dni",
        Oral,
        Antibiotic(3),
    ),
    med(
        "Tamiflu 75 mg, kapsułki",
        "J05AH02",
        "oseltamiwir",
        10,
        1,
        2,
        CAPS,
        "1 kapsułka 2 razy dziennie przez 5 dni",
        Oral,
        Course(5),
    ),
    med(
        "Paxlovid 150 mg + 100 mg, tabletki powlekane",
        "J05AE30",
        "nirmatrelwir + rytonawir",
        30,
        3,
        2,
        TAB,
        "3 tabletki 2 razy dziennie przez 5 dni",
        Oral,
        Course(5),
    ),
    med(
        "Ketonal 100 mg, kapsułki",
        "M01AE03",
        "ketoprofen",
        20,
        1,
        2,
        CAPS,
        "1 kapsułka 2 razy dziennie po posiłku",
        Oral,
        Course(7),
    ),
    med(
        "Mydocalm 150 mg, tabletki",
        "M03BX04",
        "tolperyzon",
        30,
        1,
        3,
        TAB,
        "1 tabletka 3 razy dziennie",
        Oral,
        Course(10),
    ),
    med(
        "Nebbud 0,5 mg/ml, zawiesina do nebulizacji",
        "R03BA02",
        "budezonid",
        20,
        1,
        2,
        AMP,
        "1 ampułka w nebulizacji 2 razy dziennie",
        Inhaled,
        Course(7),
    ),
    med(
        "Enterol 250 mg, kapsułki",
        "A07FA02",
        "Saccharomyces boulardii",
        10,
        1,
        2,
        CAPS,
        "1 kapsułka 2 razy dziennie",
        Oral,
        Course(5),
    ),
    med(
        "Heviran 400 mg, tabletki",
        "J05AB01",
        "acyklowir",
        30,
        1,
        4,
        TAB,
        "1 tabletka 4 razy dziennie przez 5 dni",
        Oral,
        Course(5),
    ),
    med(
        "Floxal 3 mg/ml, krople do oczu",
        "S01AE01",
        "ofloksacyna",
        100,
        1,
        4,
        DROP,
        "1 kropla do worka spojówkowego 4 razy dziennie",
        Eye,
        Course(7),
    ),
    med(
        "Clexane 40 mg/0,4 ml, roztwór do wstrzykiwań",
        "B01AB05",
        "enoksaparyna",
        10,
        1,
        1,
        AMP,
        "1 ampułkostrzykawka podskórnie raz dziennie",
        Subcutaneous,
        Course(10),
    ),
    med(
        "Tramal 50 mg, kapsułki",
        "N02AX02",
        "tramadol",
        20,
        1,
        2,
        CAPS,
        "1 kapsułka do 2 razy dziennie w bólu",
        Oral,
        Course(7),
    ),
    med(
        "Brilique 90 mg, tabletki powlekane",
        "B01AC24",
        "tikagrelor",
        56,
        1,
        2,
        TAB,
        "1 tabletka 2 razy dziennie",
        Oral,
        Chronic,
    ),
    med(
        "Encorton 20 mg, tabletki",
        "H02AB07",
        "prednizon",
        20,
        1,
        1,
        TAB,
        "1 tabletka rano przez 5 dni",
        Oral,
        Course(5),
    ),
];

/// The product named `product`; every name used in the condition table exists (checked by a test).
pub fn med_named(product: &str) -> Option<&'static Med> {
    MEDS.iter().find(|m| m.product.starts_with(product))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A long-term condition; `per_mille` prevalence by age band 0–17, 18–39, 40–64, 65+.
    Chronic { per_mille: [u16; 4], min_onset: u32 },
    /// A short illness seen in primary care; relative frequency by age band.
    Acute { weight: [u16; 4] },
    /// A condition treated in hospital; yearly risk per 10,000 by age band.
    Inpatient { per_10k: [u16; 4], ward: &'static str, days: (u32, u32) },
}

#[derive(Debug, Clone, Copy)]
pub struct Condition {
    pub code: &'static str,
    pub display: &'static str,
    pub kind: Kind,
    pub sex: Option<Sex>,
    /// Products (name prefixes) prescribed for it.
    pub meds: &'static [&'static str],
    /// Laboratory panels used to monitor or diagnose it.
    pub labs: &'static [&'static str],
    /// The specialist clinic (cell type) it is referred to, if any.
    pub clinic: Option<&'static str>,
    /// Procedure codes (ICD-9 PL) done for it.
    pub procedures: &'static [&'static str],
    /// Year from which it occurs (COVID-19).
    pub since: i32,
}

const fn chronic(code: &'static str, display: &'static str, per_mille: [u16; 4], min_onset: u32) -> Condition {
    Condition {
        code,
        display,
        kind: Kind::Chronic { per_mille, min_onset },
        sex: None,
        meds: &[],
        labs: &[],
        clinic: None,
        procedures: &[],
        since: 0,
    }
}

const fn acute(code: &'static str, display: &'static str, weight: [u16; 4]) -> Condition {
    Condition {
        code,
        display,
        kind: Kind::Acute { weight },
        sex: None,
        meds: &[],
        labs: &[],
        clinic: None,
        procedures: &[],
        since: 0,
    }
}

const fn inpatient(
    code: &'static str,
    display: &'static str,
    per_10k: [u16; 4],
    ward: &'static str,
    days: (u32, u32),
) -> Condition {
    Condition {
        code,
        display,
        kind: Kind::Inpatient { per_10k, ward, days },
        sex: None,
        meds: &[],
        labs: &[],
        clinic: None,
        procedures: &[],
        since: 0,
    }
}

impl Condition {
    const fn meds(mut self, meds: &'static [&'static str]) -> Self {
        self.meds = meds;
        self
    }
    const fn labs(mut self, labs: &'static [&'static str]) -> Self {
        self.labs = labs;
        self
    }
    const fn clinic(mut self, clinic: &'static str) -> Self {
        self.clinic = Some(clinic);
        self
    }
    const fn procedures(mut self, procedures: &'static [&'static str]) -> Self {
        self.procedures = procedures;
        self
    }
    const fn sex(mut self, sex: Sex) -> Self {
        self.sex = Some(sex);
        self
    }
    const fn since(mut self, year: i32) -> Self {
        self.since = year;
        self
    }
}

pub const CONDITIONS: &[Condition] = &[
    // Chronic conditions.
    chronic("I10", "Samoistne (pierwotne) nadciśnienie", [0, 40, 300, 620], 30)
        .meds(&["Amlozek", "Polpril", "Bisocard", "Indapen", "Lorista"])
        .labs(&["bmp", "lipid", "urine"])
        .clinic("1100")
        .procedures(&["89.52"]),
    chronic("E11", "Cukrzyca insulinoniezależna (typu 2)", [0, 10, 90, 210], 35)
        .meds(&["Metformax", "Diaprel", "Jardiance"])
        .labs(&["hba1c", "glucose", "renal", "lipid", "urine"])
        .clinic("1020"),
    chronic("E78.0", "Czysta hipercholesterolemia", [2, 60, 260, 300], 25)
        .meds(&["Atoris", "Suvardio"])
        .labs(&["lipid", "liver"]),
    chronic("I25.1", "Miażdżycowa choroba serca", [0, 2, 40, 140], 45)
        .meds(&["Polocard", "Atoris", "Bisocard"])
        .labs(&["lipid"])
        .clinic("1100")
        .procedures(&["89.52", "88.72"]),
    chronic("I48", "Migotanie i trzepotanie przedsionków", [0, 2, 20, 90], 50)
        .meds(&["Xarelto", "Eliquis", "Bisocard"])
        .labs(&["renal", "cbc"])
        .clinic("1100")
        .procedures(&["89.52", "88.72"]),
    chronic("I50.0", "Niewydolność serca zastoinowa", [0, 1, 10, 80], 55)
        .meds(&["Furosemidum", "Spironol", "Bisocard"])
        .labs(&["bmp"])
        .clinic("1100")
        .procedures(&["88.72"]),
    chronic("J44.9", "Przewlekła obturacyjna choroba płuc, nieokreślona", [0, 2, 40, 90], 45)
        .meds(&["Spiriva", "Ventolin"])
        .clinic("1272")
        .procedures(&["89.37"]),
    chronic("J45.9", "Astma, nieokreślona", [60, 55, 50, 50], 3)
        .meds(&["Symbicort", "Ventolin"])
        .clinic("1272")
        .procedures(&["89.37"]),
    chronic("E03.9", "Niedoczynność tarczycy, nieokreślona", [5, 50, 90, 110], 18)
        .meds(&["Euthyrox"])
        .labs(&["tsh"])
        .clinic("1030"),
    chronic("E66.9", "Otyłość, nieokreślona", [40, 120, 220, 220], 10).labs(&["glucose", "lipid"]),
    chronic("M17.9", "Choroba zwyrodnieniowa stawu kolanowego, nieokreślona", [0, 5, 80, 250], 45)
        .meds(&["Ketonal"])
        .clinic("1580"),
    chronic("K21.9", "Choroba refluksowa żołądkowo-przełykowa bez zapalenia przełyku", [5, 60, 110, 130], 18)
        .meds(&["Controloc"])
        .clinic("1050")
        .procedures(&["45.13"]),
    chronic("F32.9", "Epizod depresyjny, nieokreślony", [10, 60, 60, 60], 15)
        .meds(&["Sertagen", "Escitil"])
        .clinic("1700"),
    chronic("F41.1", "Zaburzenie lękowe uogólnione", [10, 40, 40, 25], 15)
        .meds(&["Escitil", "Hydroxyzinum"])
        .clinic("1700"),
    chronic("G43.9", "Migrena, nieokreślona", [10, 90, 60, 15], 12)
        .meds(&["Sumamigren"])
        .clinic("1220")
        .sex(Sex::Female),
    chronic("N18.3", "Przewlekła choroba nerek, stadium 3", [0, 2, 20, 90], 50)
        .meds(&["Lorista"])
        .labs(&["renal", "bmp", "urine", "cbc"])
        .clinic("1130"),
    chronic("M81.0", "Osteoporoza pomenopauzalna", [0, 0, 40, 200], 50)
        .meds(&["Ostemax"])
        .clinic("1030")
        .sex(Sex::Female),
    chronic("N40", "Rozrost gruczołu krokowego", [0, 0, 150, 450], 45)
        .meds(&["Tamsudil"])
        .clinic("1640")
        .procedures(&["88.76"])
        .sex(Sex::Male),
    chronic("G20", "Choroba Parkinsona", [0, 0, 3, 25], 55).meds(&["Madopar"]).clinic("1220"),
    chronic("F03", "Otępienie, nieokreślone", [0, 0, 3, 70], 65).meds(&["Donepex"]).clinic("1220"),
    chronic("L40.0", "Łuszczyca zwykła", [5, 20, 25, 20], 12).meds(&["Daivobet"]).clinic("1200"),
    chronic("K58.9", "Zespół jelita drażliwego bez biegunki", [10, 50, 40, 20], 12).meds(&["Debretat"]).clinic("1050"),
    chronic("D50.9", "Niedokrwistość z niedoboru żelaza, nieokreślona", [15, 60, 30, 40], 1)
        .meds(&["Tardyferon"])
        .labs(&["cbc"])
        .sex(Sex::Female),
    chronic("H40.1", "Jaskra pierwotna otwartego kąta", [0, 2, 15, 50], 45).meds(&["Xalatan"]).clinic("1600"),
    chronic("I83.9", "Żylaki kończyn dolnych bez owrzodzenia lub zapalenia", [0, 30, 90, 140], 25)
        .meds(&["Detralex"])
        .clinic("1120"),
    chronic("J30.4", "Alergiczny nieżyt nosa, nieokreślony", [80, 120, 60, 30], 3)
        .meds(&["Allertec", "Avamys"])
        .clinic("1010"),
    chronic("L20.9", "Atopowe zapalenie skóry, nieokreślone", [70, 20, 8, 5], 0).meds(&["Elocom"]).clinic("1200"),
    // Acute illnesses seen in primary care.
    acute("J06.9", "Ostre zakażenie górnych dróg oddechowych, nieokreślone", [300, 260, 220, 160])
        .meds(&["Paracetamol", "Ibuprofen"]),
    acute("J02.9", "Ostre zapalenie gardła, nieokreślone", [90, 80, 60, 40]).meds(&["Ibuprofen"]),
    acute("J03.9", "Ostre zapalenie migdałków, nieokreślone", [80, 50, 20, 10])
        .meds(&["Duomox", "Sumamed"])
        .labs(&["crp"]),
    acute("J20.9", "Ostre zapalenie oskrzeli, nieokreślone", [60, 50, 70, 90])
        .meds(&["Klabax", "Ibuprofen"])
        .procedures(&["87.44"]),
    acute("J01.9", "Ostre zapalenie zatok, nieokreślone", [20, 60, 60, 30]).meds(&["Augmentin"]),
    acute("H66.9", "Zapalenie ucha środkowego, nieokreślone", [120, 15, 10, 5]).meds(&["Duomox", "Paracetamol"]),
    acute("A09", "Biegunka i zapalenie żołądkowo-jelitowe o prawdopodobnie zakaźnym pochodzeniu", [80, 40, 30, 30])
        .meds(&["Enterol"]),
    acute("N39.0", "Zakażenie układu moczowego o nieokreślonym umiejscowieniu", [15, 60, 50, 70])
        .meds(&["Furagin", "Cipronex"])
        .labs(&["urine", "crp"])
        .sex(Sex::Female),
    acute("U07.1", "COVID-19, zidentyfikowano wirusa", [20, 60, 60, 80]).meds(&["Paracetamol", "Paxlovid"]).since(2020),
    acute("J11.1", "Grypa z innymi objawami oddechowymi, wirus niezidentyfikowany", [40, 40, 40, 50])
        .meds(&["Tamiflu", "Paracetamol"]),
    acute("B01.9", "Ospa wietrzna bez powikłań", [60, 3, 1, 0]).meds(&["Heviran"]),
    acute("H10.9", "Zapalenie spojówek, nieokreślone", [50, 20, 15, 15]).meds(&["Floxal"]),
    acute("S93.4", "Skręcenie i naderwanie stawu skokowego", [20, 30, 20, 10]).meds(&["Ketonal"]),
    acute("M54.5", "Ból okolicy lędźwiowo-krzyżowej", [2, 60, 90, 70]).meds(&["Ketonal", "Mydocalm"]),
    acute("R51", "Ból głowy", [10, 25, 20, 15]).meds(&["Pyralgina"]),
    acute("K29.7", "Zapalenie żołądka, nieokreślone", [5, 30, 40, 40]).meds(&["Controloc"]).labs(&["cbc"]),
    // Conditions treated in hospital.
    inpatient("J18.9", "Zapalenie płuc, nieokreślone", [40, 10, 25, 110], "4000", (4, 10))
        .meds(&["Augmentin", "Klabax"])
        .labs(&["cbc", "crp"])
        .procedures(&["87.44"]),
    inpatient("K35.8", "Ostre zapalenie wyrostka robaczkowego, inne i nieokreślone", [15, 15, 8, 4], "4500", (2, 5))
        .meds(&["Ketonal"])
        .labs(&["cbc", "crp"])
        .procedures(&["47.01"]),
    inpatient(
        "K80.2",
        "Kamica pęcherzyka żółciowego bez zapalenia pęcherzyka żółciowego",
        [0, 10, 25, 30],
        "4500",
        (2, 4),
    )
    .meds(&["Ketonal"])
    .labs(&["cbc", "liver"])
    .procedures(&["88.76", "51.23"]),
    inpatient("I21.9", "Ostry zawał serca, nieokreślony", [0, 1, 25, 70], "4100", (4, 8))
        .meds(&["Brilique", "Polocard", "Atoris", "Bisocard"])
        .labs(&["cbc", "lipid", "renal"])
        .procedures(&["89.52", "00.66"]),
    inpatient("I63.9", "Zawał mózgu, nieokreślony", [0, 1, 15, 70], "4220", (7, 14))
        .meds(&["Polocard", "Atoris"])
        .labs(&["cbc", "lipid", "glucose"])
        .procedures(&["87.03"]),
    inpatient("S52.5", "Złamanie dolnego końca kości promieniowej", [25, 8, 12, 25], "4580", (1, 3))
        .meds(&["Tramal"])
        .procedures(&["87.44", "79.02"]),
    inpatient("S72.0", "Złamanie szyjki kości udowej", [0, 0, 3, 40], "4580", (7, 14))
        .meds(&["Clexane", "Tramal"])
        .labs(&["cbc"])
        .procedures(&["81.52"]),
    inpatient("N20.0", "Kamica nerkowa", [2, 12, 18, 12], "4500", (2, 4))
        .meds(&["Ketonal"])
        .labs(&["renal"])
        .procedures(&["98.51"]),
];

/// Delivery, added to a mother's history at each child's birth.
pub const DELIVERY: Condition =
    inpatient("O80", "Poród samoistny pojedynczy", [0, 0, 0, 0], "4450", (2, 4)).labs(&["cbc"]).procedures(&["73.59"]);

/// Procedures (ICD-9 PL): code, Polish display.
pub const PROCEDURES: &[(&str, &str)] = &[
    ("89.52", "Elektrokardiogram"),
    ("88.72", "Echokardiografia"),
    ("88.76", "USG jamy brzusznej"),
    ("87.44", "RTG klatki piersiowej"),
    ("89.37", "Spirometria"),
    ("45.13", "Gastroskopia"),
    ("45.23", "Kolonoskopia"),
    ("87.03", "Tomografia komputerowa głowy"),
    ("47.01", "Appendektomia laparoskopowa"),
    ("51.23", "Cholecystektomia laparoskopowa"),
    ("00.66", "Przezskórna angioplastyka naczyń wieńcowych (PTCA)"),
    ("79.02", "Zamknięte nastawienie złamania kości promieniowej i łokciowej bez wewnętrznej stabilizacji"),
    ("81.52", "Częściowa wymiana stawu biodrowego"),
    ("98.51", "Pozaustrojowa litotrypsja falą uderzeniową nerki, moczowodu i/lub pęcherza moczowego"),
    ("73.59", "Poród ręcznie wspomagany - inny"),
    ("74.1", "Cięcie cesarskie w dolnym odcinku macicy"),
    ("95.26", "Tonografia, test prowokacyjny i inne badania jaskry"),
];

pub fn procedure_display(code: &str) -> &'static str {
    PROCEDURES.iter().find(|(c, _)| *c == code).map_or("Procedura", |(_, d)| *d)
}

/// An imaging examination: the ICD-9 PL procedure it is recorded as, how its report is coded
/// (LOINC, and the full ICD-9 PL code), the DICOM modality and body part, and what the
/// radiologist writes: the finding for a condition it shows, else the normal description.
#[derive(Debug, Clone, Copy)]
pub struct Imaging {
    pub procedure: &'static str,
    pub icd9: &'static str,
    pub loinc: (&'static str, &'static str),
    pub pl: &'static str,
    pub modality: (&'static str, &'static str),
    pub body_site: (&'static str, &'static str),
    pub instances: u32,
    pub normal: &'static str,
    pub findings: &'static [(&'static str, &'static str)],
}

impl Imaging {
    /// What the report concludes when the examination is done for condition `code`, and
    /// whether that is the condition's own finding (else the examination is normal).
    pub fn conclusion(&self, code: &str) -> (&'static str, bool) {
        self.findings.iter().find(|(c, _)| *c == code).map_or((self.normal, false), |(_, text)| (*text, true))
    }
}

pub const IMAGING: &[Imaging] = &[
    Imaging {
        procedure: "87.44",
        icd9: "87.440",
        loinc: ("36643-5", "XR Chest 2 Views"),
        pl: "RTG klatki piersiowej",
        modality: ("DX", "Digital Radiography"),
        body_site: ("51185008", "Thoracic structure"),
        instances: 2,
        normal: "Płuca bez zmian ogniskowych i naciekowych. Sylwetka serca w normie. Kąty przeponowo-żebrowe wolne.",
        findings: &[(
            "J18.9",
            "Zagęszczenie miąższowe z bronchogramem powietrznym w dolnym polu płuca prawego; obraz odpowiada zmianom zapalnym. Wskazana kontrola radiologiczna po leczeniu.",
        )],
    },
    Imaging {
        procedure: "87.03",
        icd9: "87.030",
        loinc: ("30799-1", "CT Head WO contrast"),
        pl: "TK głowy bez wzmocnienia kontrastowego",
        modality: ("CT", "Computed Tomography"),
        body_site: ("69536005", "Head structure"),
        instances: 160,
        normal: "Bez zmian ogniskowych w mózgowiu. Układ komorowy nieposzerzony, symetryczny. Struktury linii środkowej nieprzemieszczone.",
        findings: &[(
            "I63.9",
            "Obszar hipodensyjny w zakresie unaczynienia lewej tętnicy środkowej mózgu; obraz odpowiada świeżemu niedokrwiennemu uszkodzeniu mózgu. Bez cech krwawienia wewnątrzczaszkowego.",
        )],
    },
];

/// The imaging examination recorded as procedure `code`, if it is one.
pub fn imaging(procedure: &str) -> Option<&'static Imaging> {
    IMAGING.iter().find(|i| i.procedure == procedure)
}

/// A measurable goal: the LOINC of what is measured, the target range and its unit (printed,
/// UCUM).
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub loinc: (&'static str, &'static str),
    pub low: Option<f64>,
    pub high: Option<f64>,
    pub unit: (&'static str, &'static str),
}

/// An activity planned in an IPOM: a ServiceRequest (a laboratory panel, or another test) or an
/// Appointment, every `months`.
#[derive(Debug, Clone, Copy)]
pub struct Activity {
    pub kind: &'static str,
    pub description: &'static str,
    pub months: u32,
    pub panel: Option<&'static str>,
}

/// What an IPOM (the individual care plan of coordinated primary care) sets for a chronic
/// condition: a goal, with a target where it is measured, and the planned activities.
#[derive(Debug, Clone, Copy)]
pub struct CarePlanning {
    pub condition: &'static str,
    pub goal: &'static str,
    pub target: Option<Target>,
    pub activities: &'static [Activity],
}

const fn lab(description: &'static str, months: u32, panel: &'static str) -> Activity {
    Activity { kind: "ServiceRequest", description, months, panel: Some(panel) }
}

const fn visit(description: &'static str, months: u32) -> Activity {
    Activity { kind: "Appointment", description, months, panel: None }
}

const SYSTOLIC: (&str, &str) = ("8480-6", "Systolic blood pressure");
const LDL: (&str, &str) = ("18262-6", "Cholesterol in LDL [Mass/volume] in Serum or Plasma by Direct assay");
const MG_DL: (&str, &str) = ("mg/dl", "mg/dL");

/// The conditions coordinated primary care plans for, with the plan's content.
pub const CARE_PLANNING: &[CarePlanning] = &[
    CarePlanning {
        condition: "I10",
        goal: "Ciśnienie tętnicze < 140/90 mmHg",
        target: Some(Target { loinc: SYSTOLIC, low: None, high: Some(140.0), unit: ("mmHg", "mm[Hg]") }),
        activities: &[
            visit("Wizyta kontrolna z pomiarem ciśnienia tętniczego co 6 miesięcy", 6),
            lab("Panel podstawowy (elektrolity, glukoza, kreatynina) raz w roku", 12, "bmp"),
            lab("Badanie ogólne moczu raz w roku", 12, "urine"),
        ],
    },
    CarePlanning {
        condition: "E11",
        goal: "HbA1c < 7%",
        target: Some(Target {
            loinc: ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood"),
            low: None,
            high: Some(7.0),
            unit: ("%", "%"),
        }),
        activities: &[
            lab("Kontrola HbA1c co 3 miesiące", 3, "hba1c"),
            lab("Lipidogram raz w roku", 12, "lipid"),
            visit("Konsultacja diabetologiczna raz w roku", 12),
        ],
    },
    CarePlanning {
        condition: "E78.0",
        goal: "Cholesterol LDL < 115 mg/dl",
        target: Some(Target { loinc: LDL, low: None, high: Some(115.0), unit: MG_DL }),
        activities: &[lab("Lipidogram raz w roku", 12, "lipid"), lab("Próby wątrobowe raz w roku", 12, "liver")],
    },
    CarePlanning {
        condition: "I25.1",
        goal: "Cholesterol LDL < 55 mg/dl",
        target: Some(Target { loinc: LDL, low: None, high: Some(55.0), unit: MG_DL }),
        activities: &[visit("Wizyta kontrolna co 6 miesięcy", 6), lab("Lipidogram co 6 miesięcy", 6, "lipid")],
    },
    CarePlanning {
        condition: "I48",
        goal: "Skuteczna antykoagulacja bez powikłań krwotocznych",
        target: None,
        activities: &[
            lab("Kreatynina i eGFR raz w roku (dawkowanie leku przeciwkrzepliwego)", 12, "renal"),
            lab("Morfologia krwi raz w roku", 12, "cbc"),
        ],
    },
    CarePlanning {
        condition: "I50.0",
        goal: "Brak hospitalizacji z powodu zaostrzenia niewydolności serca",
        target: None,
        activities: &[
            visit("Wizyta kontrolna z oceną obrzęków i masy ciała co 3 miesiące", 3),
            lab("Elektrolity i kreatynina co 6 miesięcy", 6, "bmp"),
        ],
    },
    CarePlanning {
        condition: "E03.9",
        goal: "TSH w zakresie referencyjnym",
        target: Some(Target {
            loinc: ("3016-3", "Thyrotropin [Units/volume] in Serum or Plasma"),
            low: Some(0.4),
            high: Some(4.0),
            unit: ("µIU/ml", "u[IU]/mL"),
        }),
        activities: &[lab("Kontrola TSH co 6 miesięcy", 6, "tsh")],
    },
    CarePlanning {
        condition: "N18.3",
        goal: "eGFR ≥ 45 ml/min/1,73 m²",
        target: Some(Target {
            loinc: (
                "62238-1",
                "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or Blood by Creatinine-based formula (CKD-EPI)",
            ),
            low: Some(45.0),
            high: None,
            unit: ("ml/min/1,73 m²", "mL/min/{1.73_m2}"),
        }),
        activities: &[
            lab("Panel nerkowy co 6 miesięcy", 6, "renal"),
            lab("Badanie ogólne moczu raz w roku", 12, "urine"),
        ],
    },
    CarePlanning {
        condition: "J44.9",
        goal: "Brak zaostrzeń wymagających hospitalizacji",
        target: None,
        activities: &[visit("Spirometria i wizyta kontrolna raz w roku", 12)],
    },
    CarePlanning {
        condition: "J45.9",
        goal: "Dobra kontrola objawów astmy",
        target: None,
        activities: &[visit("Spirometria i wizyta kontrolna raz w roku", 12)],
    },
];

/// The IPOM content for chronic condition `code`, if coordinated care plans for it.
pub fn care_planning(code: &str) -> Option<&'static CarePlanning> {
    CARE_PLANNING.iter().find(|p| p.condition == code)
}

/// Specialist clinics (cell type), with the physician specialty expected there.
pub const CLINICS: &[(&str, &str, &str)] = &[
    ("1100", "Poradnia kardiologiczna", "0748"),
    ("1020", "Poradnia diabetologiczna", "0740"),
    ("1030", "Poradnia endokrynologiczna", "0741"),
    ("1272", "Poradnia chorób płuc", "0739"),
    ("1580", "Poradnia chirurgii urazowo-ortopedycznej", "0720"),
    ("1050", "Poradnia gastroenterologiczna", "0743"),
    ("1700", "Poradnia zdrowia psychicznego", "0725"),
    ("1220", "Poradnia neurologiczna", "0718"),
    ("1130", "Poradnia nefrologiczna", "0752"),
    ("1640", "Poradnia urologiczna", "0729"),
    ("1200", "Poradnia dermatologiczna", "0707"),
    ("1600", "Poradnia okulistyczna", "0719"),
    ("1120", "Poradnia chorób naczyń", "0736"),
    ("1010", "Poradnia alergologiczna", "0731"),
];

/// Hospital wards (cell type), with the physician specialty expected there.
pub const WARDS: &[(&str, &str, &str)] = &[
    ("4000", "Oddział chorób wewnętrznych", "0705"),
    ("4100", "Oddział kardiologiczny", "0748"),
    ("4220", "Oddział neurologiczny", "0718"),
    ("4401", "Oddział pediatryczny", "0723"),
    ("4421", "Oddział neonatologiczny", "0753"),
    ("4450", "Oddział położniczo-ginekologiczny", "0724"),
    ("4500", "Oddział chirurgiczny ogólny", "0703"),
    ("4580", "Oddział chirurgii urazowo-ortopedycznej", "0720"),
    ("4902", "Szpitalny oddział ratunkowy", "0712"),
];

pub fn cell_display(code: &str) -> &'static str {
    match code {
        "0010" => "Poradnia (gabinet) lekarza podstawowej opieki zdrowotnej",
        "0032" => "Poradnia (gabinet) pielęgniarki podstawowej opieki zdrowotnej",
        "7100" => "Medyczne laboratorium diagnostyczne (laboratorium)",
        "4900" => "Izba przyjęć szpitala",
        _ => CLINICS.iter().chain(WARDS).find(|(c, _, _)| *c == code).map_or("Komórka organizacyjna", |(_, d, _)| *d),
    }
}

/// Physician specialties (code, display).
pub const SPECIALTIES: &[(&str, &str)] = &[
    ("0713", "medycyna rodzinna"),
    ("0705", "choroby wewnętrzne"),
    ("0723", "pediatria"),
    ("0748", "kardiologia"),
    ("0703", "chirurgia ogólna"),
    ("0720", "ortopedia i traumatologia narządu ruchu"),
    ("0718", "neurologia"),
    ("0724", "położnictwo i ginekologia"),
    ("0712", "medycyna ratunkowa"),
    ("0701", "anestezjologia i intensywna terapia"),
    ("0740", "diabetologia"),
    ("0741", "endokrynologia"),
    ("0739", "choroby płuc"),
    ("0743", "gastroenterologia"),
    ("0725", "psychiatria"),
    ("0752", "nefrologia"),
    ("0729", "urologia"),
    ("0707", "dermatologia i wenerologia"),
    ("0719", "okulistyka"),
    ("0736", "chirurgia naczyniowa"),
    ("0731", "alergologia"),
    ("0708", "diagnostyka laboratoryjna"),
    ("0753", "neonatologia"),
    ("0726", "radiologia i diagnostyka obrazowa"),
];

pub fn specialty_display(code: &str) -> &'static str {
    SPECIALTIES.iter().find(|(c, _)| *c == code).map_or("specjalność", |(_, d)| *d)
}

/// Vaccines: CVX code, CVX short description, Polish name.
pub const VACCINES: &[(&str, &str, &str)] = &[
    ("19", "BCG", "Szczepionka przeciw gruźlicy (BCG)"),
    ("08", "Hep B, adolescent or pediatric", "Szczepionka przeciw WZW typu B"),
    ("20", "DTaP", "Szczepionka przeciw błonicy, tężcowi i krztuścowi (DTaP)"),
    ("10", "IPV", "Szczepionka przeciw poliomyelitis (IPV)"),
    ("17", "Hib, unspecified formulation", "Szczepionka przeciw Haemophilus influenzae typu b"),
    ("133", "Pneumococcal conjugate PCV 13", "Szczepionka przeciw pneumokokom (PCV13)"),
    ("119", "rotavirus, monovalent", "Szczepionka przeciw rotawirusom"),
    ("03", "MMR", "Szczepionka przeciw odrze, śwince i różyczce (MMR)"),
    ("115", "Tdap", "Szczepionka przeciw tężcowi, błonicy i krztuścowi (Tdap)"),
    ("09", "Td (adult), adsorbed", "Szczepionka przeciw tężcowi i błonicy (Td)"),
    ("165", "HPV9", "Szczepionka przeciw wirusowi brodawczaka ludzkiego (HPV)"),
    ("150", "Influenza, injectable, quadrivalent, preservative free", "Szczepionka przeciw grypie"),
    ("208", "COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL dose", "Szczepionka przeciw COVID-19 (mRNA, Comirnaty)"),
    ("213", "SARS-COV-2 (COVID-19) vaccine, UNSPECIFIED FORMULATION", "Szczepionka przeciw COVID-19"),
    ("33", "pneumococcal polysaccharide PPV23", "Szczepionka przeciw pneumokokom (PPSV23)"),
    ("77", "tick-borne encephalitis", "Szczepionka przeciw kleszczowemu zapaleniu mózgu"),
];

pub fn vaccine(code: &str) -> (&'static str, &'static str, &'static str) {
    VACCINES.iter().copied().find(|(c, _, _)| *c == code).unwrap_or(("213", "vaccine", "Szczepionka"))
}

/// The Polish childhood schedule (PSO), simplified: age in days and the vaccines (CVX, dose).
pub const CHILD_SCHEDULE: &[(u32, &[(&str, u32)])] = &[
    (0, &[("08", 1), ("19", 1)]),
    (45, &[("08", 2), ("20", 1), ("17", 1), ("133", 1), ("119", 1)]),
    (105, &[("20", 2), ("10", 1), ("17", 2), ("133", 2), ("119", 2)]),
    (160, &[("20", 3), ("10", 2), ("17", 3)]),
    (215, &[("08", 3)]),
    (400, &[("03", 1), ("133", 3)]),
    (510, &[("20", 4), ("10", 3), ("17", 4)]),
    (2220, &[("20", 5), ("10", 4), ("03", 2)]),
    (5150, &[("115", 1)]),
    (6950, &[("09", 1)]),
];

/// Allergens (SNOMED CT substance), Polish name, category, and a typical reaction (SNOMED CT).
pub const ALLERGENS: &[(&str, &str, &str, (&str, &str))] = &[
    ("764146007", "Penicylina", "medication", ("126485001", "Urticaria")),
    ("372687004", "Amoksycylina", "medication", ("271807003", "Eruption of skin")),
    ("387458008", "Kwas acetylosalicylowy", "medication", ("267036007", "Dyspnea")),
    ("387207008", "Ibuprofen", "medication", ("126485001", "Urticaria")),
    ("256277009", "Pyłek traw", "environment", ("61582004", "Allergic rhinitis")),
    ("260147004", "Roztocza kurzu domowego", "environment", ("61582004", "Allergic rhinitis")),
    ("762952008", "Orzeszki ziemne", "food", ("39579001", "Anaphylaxis")),
    ("111088007", "Lateks", "environment", ("271807003", "Eruption of skin")),
    ("288328004", "Jad pszczeli", "environment", ("39579001", "Anaphylaxis")),
];

#[cfg(test)]
mod tests {
    use ikp_terminology::laboratory;

    use super::*;

    #[test]
    fn catalogue_is_consistent() {
        assert!(CONDITIONS.len() >= 45);
        for c in CONDITIONS.iter().chain([&DELIVERY]) {
            for m in c.meds {
                assert!(med_named(m).is_some(), "{}: {m}", c.code);
            }
            for l in c.labs {
                assert!(laboratory::panel(l).is_some(), "{}: {l}", c.code);
            }
            for p in c.procedures {
                assert!(PROCEDURES.iter().any(|(code, _)| code == p), "{}: {p}", c.code);
            }
            if let Some(clinic) = c.clinic {
                assert!(CLINICS.iter().any(|(code, _, _)| *code == clinic), "{}", c.code);
            }
            if let Kind::Inpatient { ward, .. } = c.kind {
                assert!(WARDS.iter().any(|(code, _, _)| *code == ward), "{}", c.code);
            }
        }
        for exam in IMAGING {
            assert!(PROCEDURES.iter().any(|(code, _)| *code == exam.procedure), "{}", exam.procedure);
            assert!(exam.icd9.starts_with(exam.procedure) && laboratory::loinc_valid(exam.loinc.0), "{}", exam.icd9);
        }
        for plan in CARE_PLANNING {
            assert!(CONDITIONS.iter().any(|c| c.code == plan.condition && matches!(c.kind, Kind::Chronic { .. })));
            assert!(!plan.activities.is_empty(), "{}", plan.condition);
            for a in plan.activities {
                assert!(a.panel.is_none_or(|p| laboratory::panel(p).is_some()), "{}: {:?}", plan.condition, a.panel);
            }
            if let Some(t) = plan.target {
                assert!(
                    laboratory::loinc_valid(t.loinc.0) && (t.low.is_some() || t.high.is_some()),
                    "{}",
                    plan.condition
                );
            }
        }
        for (_, doses) in CHILD_SCHEDULE {
            for (cvx, _) in *doses {
                assert!(VACCINES.iter().any(|(c, _, _)| c == cvx), "{cvx}");
            }
        }
        for (_, _, s) in CLINICS.iter().chain(WARDS) {
            assert!(SPECIALTIES.iter().any(|(c, _)| c == s), "{s}");
        }
    }
}
