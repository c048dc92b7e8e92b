//! The laboratory catalogue: LOINC tests with Polish names, UCUM units and reference ranges, and
//! the panels that group them; used by the synthetic population and by the demo population of the
//! national workflows, so a result means the same in both. Each test also carries the healthy
//! distribution the synthetic population draws from.

/// Code systems a laboratory result is written in.
pub const LOINC: &str = "http://loinc.org";
pub const UCUM: &str = "http://unitsofmeasure.org";
pub const SNOMED: &str = "http://snomed.info/sct";
pub const INTERPRETATION: &str = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";
pub const OBSERVATION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
/// HL7 v2 table 0074, the diagnostic service section (`LAB`, `RAD`) of a DiagnosticReport.
pub const DIAGNOSTIC_SERVICE: &str = "http://terminology.hl7.org/CodeSystem/v2-0074";

/// How a test's result is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestKind {
    /// A measured amount (`valueQuantity` in the test's UCUM unit).
    Quantity,
    /// Present or absent (`valueCodeableConcept`, a [`Finding`]); the catalogue's range then
    /// bounds a latent amount: above the high limit the finding is positive.
    Presence,
}

/// What a test is measured in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecimenType {
    Blood,
    Serum,
    Urine,
}

impl SpecimenType {
    /// SNOMED CT code and display.
    pub fn snomed(self) -> (&'static str, &'static str) {
        match self {
            SpecimenType::Blood => ("119297000", "Blood specimen"),
            SpecimenType::Serum => ("119364003", "Serum specimen"),
            SpecimenType::Urine => ("122575003", "Urine specimen"),
        }
    }

    pub fn pl(self) -> &'static str {
        match self {
            SpecimenType::Blood => "Krew pełna",
            SpecimenType::Serum => "Surowica",
            SpecimenType::Urine => "Mocz",
        }
    }
}

/// A qualitative result: SNOMED CT code and display, and the word a Polish report uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finding {
    pub code: &'static str,
    pub display: &'static str,
    pub pl: &'static str,
}

pub const NEGATIVE: Finding = Finding { code: "260385009", display: "Negative", pl: "ujemny" };
pub const POSITIVE: Finding = Finding { code: "10828004", display: "Positive", pl: "dodatni" };

/// A laboratory test: LOINC, names, unit, reference range by sex, specimen, and the healthy
/// distribution the synthetic population draws from.
#[derive(Debug, Clone, Copy)]
pub struct Test {
    pub key: &'static str,
    pub loinc: &'static str,
    pub display: &'static str,
    pub pl: &'static str,
    /// The unit as a Polish report prints it (empty for a dimensionless ratio) and its UCUM code.
    pub unit: &'static str,
    pub ucum: &'static str,
    pub kind: TestKind,
    pub specimen_type: SpecimenType,
    /// Reference range (low, high) for men and women; `None` = no limit on that side.
    pub male: (Option<f64>, Option<f64>),
    pub female: (Option<f64>, Option<f64>),
    /// Mean for men and women, and standard deviation, of a healthy adult.
    pub mean: (f64, f64),
    pub sd: f64,
    /// Decimal places reported.
    pub scale: u32,
}

impl Test {
    /// The reference range (low, high) for a man or a woman.
    pub fn range(&self, male: bool) -> (Option<f64>, Option<f64>) {
        if male { self.male } else { self.female }
    }

    /// `value` as reported, rounded to the test's decimal places (interpret what is reported, so
    /// a printed 5.6 is never flagged high against a limit of 5.6).
    pub fn rounded(&self, value: f64) -> f64 {
        let p = 10f64.powi(self.scale as i32);
        (value * p).round() / p
    }

    /// The v3-ObservationInterpretation code and display of `value`: L, H or N against the range;
    /// for a Presence test A (Abnormal) when positive, else N.
    pub fn interpretation(&self, value: f64, male: bool) -> (&'static str, &'static str) {
        let (low, high) = self.range(male);
        match self.kind {
            TestKind::Presence if self.finding(value, male) == POSITIVE => ("A", "Abnormal"),
            TestKind::Presence => ("N", "Normal"),
            TestKind::Quantity => match (low, high) {
                (Some(l), _) if value < l => ("L", "Low"),
                (_, Some(h)) if value > h => ("H", "High"),
                _ => ("N", "Normal"),
            },
        }
    }

    /// The qualitative result of a latent `value`: positive above the high limit.
    pub fn finding(&self, value: f64, male: bool) -> Finding {
        match self.range(male).1 {
            Some(h) if value > h => POSITIVE,
            _ => NEGATIVE,
        }
    }

    const fn blood(mut self) -> Self {
        self.specimen_type = SpecimenType::Blood;
        self
    }
}

/// A measured test on serum (`.blood()` for whole blood).
#[allow(clippy::too_many_arguments)]
const fn quantitative(
    key: &'static str,
    loinc: &'static str,
    display: &'static str,
    pl: &'static str,
    unit: &'static str,
    ucum: &'static str,
    male: (Option<f64>, Option<f64>),
    female: (Option<f64>, Option<f64>),
    mean: (f64, f64),
    sd: f64,
    scale: u32,
) -> Test {
    Test {
        key,
        loinc,
        display,
        pl,
        unit,
        ucum,
        kind: TestKind::Quantity,
        specimen_type: SpecimenType::Serum,
        male,
        female,
        mean,
        sd,
        scale,
    }
}

/// A urine test strip result measured on a dimensionless scale.
#[allow(clippy::too_many_arguments)]
const fn strip(
    key: &'static str,
    loinc: &'static str,
    display: &'static str,
    pl: &'static str,
    unit: &'static str,
    ucum: &'static str,
    range: (f64, f64),
    mean: f64,
    sd: f64,
    scale: u32,
) -> Test {
    let range = (Some(range.0), Some(range.1));
    let mut t = quantitative(key, loinc, display, pl, unit, ucum, range, range, (mean, mean), sd, scale);
    t.specimen_type = SpecimenType::Urine;
    t
}

/// A urine test strip read as present or absent. The latent amount is in healthy SDs: a healthy
/// person's result is positive about once in a hundred.
const fn presence(key: &'static str, loinc: &'static str, display: &'static str, pl: &'static str) -> Test {
    let range = (None, Some(2.0));
    Test {
        key,
        loinc,
        display,
        pl,
        unit: "",
        ucum: "",
        kind: TestKind::Presence,
        specimen_type: SpecimenType::Urine,
        male: range,
        female: range,
        mean: (0.0, 0.0),
        sd: 1.0,
        scale: 0,
    }
}

pub const TESTS: &[Test] = &[
    quantitative(
        "wbc",
        "6690-2",
        "Leukocytes [#/volume] in Blood by Automated count",
        "Leukocyty (WBC)",
        "10^3/µl",
        "10*3/uL",
        (Some(4.0), Some(10.0)),
        (Some(4.0), Some(10.0)),
        (6.8, 6.8),
        1.5,
        2,
    )
    .blood(),
    quantitative(
        "rbc",
        "789-8",
        "Erythrocytes [#/volume] in Blood by Automated count",
        "Erytrocyty (RBC)",
        "10^6/µl",
        "10*6/uL",
        (Some(4.5), Some(5.9)),
        (Some(4.0), Some(5.2)),
        (5.1, 4.6),
        0.3,
        2,
    )
    .blood(),
    quantitative(
        "hgb",
        "718-7",
        "Hemoglobin [Mass/volume] in Blood",
        "Hemoglobina (HGB)",
        "g/dl",
        "g/dL",
        (Some(13.5), Some(17.5)),
        (Some(12.0), Some(16.0)),
        (15.3, 13.8),
        0.9,
        1,
    )
    .blood(),
    quantitative(
        "hct",
        "4544-3",
        "Hematocrit [Volume Fraction] of Blood by Automated count",
        "Hematokryt (HCT)",
        "%",
        "%",
        (Some(40.0), Some(52.0)),
        (Some(36.0), Some(46.0)),
        (45.0, 41.0),
        2.5,
        1,
    )
    .blood(),
    quantitative(
        "mcv",
        "787-2",
        "MCV [Entitic volume] by Automated count",
        "MCV",
        "fl",
        "fL",
        (Some(80.0), Some(100.0)),
        (Some(80.0), Some(100.0)),
        (89.0, 88.0),
        4.0,
        1,
    )
    .blood(),
    quantitative(
        "plt",
        "777-3",
        "Platelets [#/volume] in Blood by Automated count",
        "Płytki krwi (PLT)",
        "10^3/µl",
        "10*3/uL",
        (Some(150.0), Some(400.0)),
        (Some(150.0), Some(400.0)),
        (245.0, 260.0),
        50.0,
        0,
    )
    .blood(),
    quantitative(
        "glucose",
        "1558-6",
        "Fasting glucose [Mass/volume] in Serum or Plasma",
        "Glukoza na czczo",
        "mg/dl",
        "mg/dL",
        (Some(70.0), Some(99.0)),
        (Some(70.0), Some(99.0)),
        (89.0, 87.0),
        7.0,
        0,
    ),
    quantitative(
        "hba1c",
        "4548-4",
        "Hemoglobin A1c/Hemoglobin.total in Blood",
        "Hemoglobina glikowana (HbA1c)",
        "%",
        "%",
        (Some(4.0), Some(5.6)),
        (Some(4.0), Some(5.6)),
        (5.3, 5.3),
        0.25,
        1,
    )
    .blood(),
    quantitative(
        "chol",
        "2093-3",
        "Cholesterol [Mass/volume] in Serum or Plasma",
        "Cholesterol całkowity",
        "mg/dl",
        "mg/dL",
        (None, Some(190.0)),
        (None, Some(190.0)),
        (192.0, 198.0),
        30.0,
        0,
    ),
    quantitative(
        "hdl",
        "2085-9",
        "Cholesterol in HDL [Mass/volume] in Serum or Plasma",
        "Cholesterol HDL",
        "mg/dl",
        "mg/dL",
        (Some(40.0), None),
        (Some(45.0), None),
        (50.0, 61.0),
        10.0,
        0,
    ),
    quantitative(
        "ldl",
        "18262-6",
        "Cholesterol in LDL [Mass/volume] in Serum or Plasma by Direct assay",
        "Cholesterol LDL",
        "mg/dl",
        "mg/dL",
        (None, Some(115.0)),
        (None, Some(115.0)),
        (118.0, 114.0),
        28.0,
        0,
    ),
    quantitative(
        "tg",
        "2571-8",
        "Triglyceride [Mass/volume] in Serum or Plasma",
        "Triglicerydy",
        "mg/dl",
        "mg/dL",
        (None, Some(150.0)),
        (None, Some(150.0)),
        (125.0, 108.0),
        40.0,
        0,
    ),
    quantitative(
        "creat",
        "2160-0",
        "Creatinine [Mass/volume] in Serum or Plasma",
        "Kreatynina",
        "mg/dl",
        "mg/dL",
        (Some(0.7), Some(1.2)),
        (Some(0.5), Some(0.9)),
        (0.95, 0.72),
        0.1,
        2,
    ),
    quantitative(
        "egfr",
        "62238-1",
        "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or Blood by Creatinine-based formula (CKD-EPI)",
        "eGFR (CKD-EPI)",
        "ml/min/1,73 m²",
        "mL/min/{1.73_m2}",
        (Some(60.0), None),
        (Some(60.0), None),
        (95.0, 95.0),
        12.0,
        0,
    ),
    quantitative(
        "na",
        "2951-2",
        "Sodium [Moles/volume] in Serum or Plasma",
        "Sód",
        "mmol/l",
        "mmol/L",
        (Some(136.0), Some(145.0)),
        (Some(136.0), Some(145.0)),
        (140.0, 140.0),
        2.0,
        0,
    ),
    quantitative(
        "k",
        "2823-3",
        "Potassium [Moles/volume] in Serum or Plasma",
        "Potas",
        "mmol/l",
        "mmol/L",
        (Some(3.5), Some(5.1)),
        (Some(3.5), Some(5.1)),
        (4.3, 4.3),
        0.3,
        1,
    ),
    quantitative(
        "tsh",
        "3016-3",
        "Thyrotropin [Units/volume] in Serum or Plasma",
        "TSH",
        "µIU/ml",
        "u[IU]/mL",
        (Some(0.27), Some(4.2)),
        (Some(0.27), Some(4.2)),
        (1.8, 2.0),
        0.7,
        2,
    ),
    quantitative(
        "alt",
        "1742-6",
        "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
        "ALT",
        "U/l",
        "U/L",
        (None, Some(41.0)),
        (None, Some(33.0)),
        (25.0, 19.0),
        8.0,
        0,
    ),
    quantitative(
        "ast",
        "1920-8",
        "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
        "AST",
        "U/l",
        "U/L",
        (None, Some(40.0)),
        (None, Some(32.0)),
        (24.0, 20.0),
        6.0,
        0,
    ),
    quantitative(
        "crp",
        "1988-5",
        "C reactive protein [Mass/volume] in Serum or Plasma",
        "Białko C-reaktywne (CRP)",
        "mg/l",
        "mg/L",
        (None, Some(5.0)),
        (None, Some(5.0)),
        (1.8, 1.8),
        1.2,
        1,
    ),
    quantitative(
        "urea",
        "3091-6",
        "Urea [Mass/volume] in Serum or Plasma",
        "Mocznik",
        "mg/dl",
        "mg/dL",
        (Some(17.0), Some(43.0)),
        (Some(17.0), Some(43.0)),
        (31.0, 27.0),
        6.0,
        0,
    ),
    quantitative(
        "calcium",
        "17861-6",
        "Calcium [Mass/volume] in Serum or Plasma",
        "Wapń całkowity",
        "mg/dl",
        "mg/dL",
        (Some(8.6), Some(10.3)),
        (Some(8.6), Some(10.3)),
        (9.5, 9.4),
        0.35,
        1,
    ),
    strip(
        "usg",
        "5811-5",
        "Specific gravity of Urine by Test strip",
        "Ciężar właściwy moczu",
        "",
        "1",
        (1.005, 1.030),
        1.018,
        0.005,
        3,
    ),
    strip("uph", "5803-2", "pH of Urine by Test strip", "pH moczu", "pH", "[pH]", (5.0, 8.0), 6.0, 0.6, 1),
    presence("uprot", "20454-5", "Protein [Presence] in Urine by Test strip", "Białko w moczu"),
    presence("uglu", "25428-4", "Glucose [Presence] in Urine by Test strip", "Glukoza w moczu"),
];

/// The test `key` (e.g. `hgb`).
pub fn test(key: &str) -> Option<&'static Test> {
    TESTS.iter().find(|t| t.key == key)
}

/// The position of test `key` in [`TESTS`] (for per-test tables kept alongside it).
pub fn test_index(key: &str) -> Option<usize> {
    TESTS.iter().position(|t| t.key == key)
}

/// A laboratory panel: key, LOINC, English name, Polish name, tests. A panel of one test is how
/// that single test is ordered (its code is the test's own).
#[derive(Debug, Clone, Copy)]
pub struct Panel {
    pub key: &'static str,
    pub loinc: &'static str,
    pub display: &'static str,
    pub pl: &'static str,
    pub tests: &'static [&'static str],
}

impl Panel {
    /// The panel's tests, in report order.
    pub fn members(&self) -> impl Iterator<Item = &'static Test> + use<> {
        self.tests.iter().filter_map(|k| test(k))
    }

    /// More than one test: results are grouped under a panel Observation (`hasMember`).
    pub fn is_group(&self) -> bool {
        self.tests.len() > 1
    }

    /// The specimen every test of the panel is measured in (`None` if they differ).
    pub fn specimen_type(&self) -> Option<SpecimenType> {
        let mut types = self.members().map(|t| t.specimen_type);
        let first = types.next()?;
        types.all(|t| t == first).then_some(first)
    }

    /// Whether the two panels measure a test in common (ordering both at once repeats it).
    pub fn overlaps(&self, other: &Panel) -> bool {
        self.tests.iter().any(|t| other.tests.contains(t))
    }
}

pub const PANELS: &[Panel] = &[
    Panel {
        key: "cbc",
        loinc: "58410-2",
        display: "CBC panel - Blood by Automated count",
        pl: "Morfologia krwi",
        tests: &["wbc", "rbc", "hgb", "hct", "mcv", "plt"],
    },
    Panel {
        key: "lipid",
        loinc: "57698-3",
        display: "Lipid panel with direct LDL - Serum or Plasma",
        pl: "Lipidogram",
        tests: &["chol", "hdl", "ldl", "tg"],
    },
    Panel {
        key: "glucose",
        loinc: "1558-6",
        display: "Fasting glucose [Mass/volume] in Serum or Plasma",
        pl: "Glukoza na czczo",
        tests: &["glucose"],
    },
    Panel {
        key: "hba1c",
        loinc: "4548-4",
        display: "Hemoglobin A1c/Hemoglobin.total in Blood",
        pl: "Hemoglobina glikowana",
        tests: &["hba1c"],
    },
    Panel {
        key: "renal",
        loinc: "24362-6",
        display: "Renal function 2000 panel - Serum or Plasma",
        pl: "Panel nerkowy",
        tests: &["creat", "egfr", "na", "k"],
    },
    Panel {
        key: "bmp",
        loinc: "51990-0",
        display: "Basic metabolic panel - Blood",
        pl: "Panel podstawowy (elektrolity, glukoza, kreatynina)",
        tests: &["glucose", "na", "k", "creat", "urea", "calcium"],
    },
    Panel {
        key: "tsh",
        loinc: "3016-3",
        display: "Thyrotropin [Units/volume] in Serum or Plasma",
        pl: "TSH",
        tests: &["tsh"],
    },
    Panel {
        key: "liver",
        loinc: "24325-3",
        display: "Hepatic function panel - Serum or Plasma",
        pl: "Próby wątrobowe",
        tests: &["alt", "ast"],
    },
    Panel {
        key: "crp",
        loinc: "1988-5",
        display: "C reactive protein [Mass/volume] in Serum or Plasma",
        pl: "CRP",
        tests: &["crp"],
    },
    Panel {
        key: "urine",
        loinc: "24356-8",
        display: "Urinalysis complete panel - Urine",
        pl: "Badanie ogólne moczu",
        tests: &["usg", "uph", "uprot", "uglu"],
    },
];

/// The panel `key` (e.g. `cbc`).
pub fn panel(key: &str) -> Option<&'static Panel> {
    PANELS.iter().find(|p| p.key == key)
}

/// Whether `code` is a well-formed LOINC code: up to five digits, a dash and the mod-10 check
/// digit (Luhn over the digits before the dash, as the LOINC users' guide describes).
pub fn loinc_valid(code: &str) -> bool {
    let Some((number, check)) = code.split_once('-') else { return false };
    let digits: Option<Vec<u32>> = number.chars().map(|c| c.to_digit(10)).collect();
    let mut check = check.chars();
    let (Some(digits), Some(check), None) = (digits, check.next().and_then(|c| c.to_digit(10)), check.next()) else {
        return false;
    };
    if !(1..=5).contains(&digits.len()) {
        return false;
    }
    // From the right, every other digit (starting with the last) is doubled and its digits summed.
    let sum: u32 =
        digits.iter().rev().enumerate().map(|(i, &d)| if i % 2 == 0 { (2 * d) / 10 + (2 * d) % 10 } else { d }).sum();
    (10 - sum % 10) % 10 == check
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_panel_test_exists_and_shares_one_specimen() {
        for p in PANELS {
            assert!(!p.tests.is_empty(), "{}", p.key);
            for t in p.tests {
                assert!(test(t).is_some(), "{}: {t}", p.key);
            }
            assert!(p.specimen_type().is_some(), "{}: tests on different specimens", p.key);
            assert_eq!(panel(p.key).map(|x| x.loinc), Some(p.loinc));
        }
        let mut keys: Vec<&str> = TESTS.iter().map(|t| t.key).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), TESTS.len(), "test keys are unique");
    }

    #[test]
    fn loinc_codes_have_the_shape_and_the_check_digit() {
        let shape = regex::Regex::new(r"^\d{1,5}-\d$").expect("regex");
        let codes = TESTS.iter().map(|t| t.loinc).chain(PANELS.iter().map(|p| p.loinc));
        for code in codes {
            assert!(shape.is_match(code), "{code}");
            assert!(loinc_valid(code), "{code}: check digit");
        }
        // Published codes, and the same with a wrong check digit.
        for good in ["718-7", "2160-0", "36643-5", "58410-2", "24356-8"] {
            assert!(loinc_valid(good), "{good}");
        }
        for bad in ["718-8", "2160-1", "123456-7", "718", "71a-7", "718-77", "-7"] {
            assert!(!loinc_valid(bad), "{bad}");
        }
    }

    #[test]
    fn units_and_ranges_are_coherent() {
        for t in TESTS {
            for male in [true, false] {
                let (low, high) = t.range(male);
                if let (Some(l), Some(h)) = (low, high) {
                    assert!(l < h, "{}: {l} !< {h}", t.key);
                }
                assert!(low.is_some() || high.is_some(), "{}: no limit", t.key);
            }
            assert!(t.sd > 0.0, "{}", t.key);
            match t.kind {
                TestKind::Quantity => assert!(!t.ucum.is_empty(), "{}: no UCUM code", t.key),
                // Positive means above the high limit, so a presence test needs one.
                TestKind::Presence => assert!(t.male.1.is_some() && t.female.1.is_some(), "{}", t.key),
            }
        }
    }

    #[test]
    fn interpretation_follows_the_range_and_the_sex() {
        let hgb = test("hgb").expect("hgb");
        assert_eq!(hgb.interpretation(12.5, true), ("L", "Low"));
        assert_eq!(hgb.interpretation(12.5, false), ("N", "Normal"));
        assert_eq!(hgb.interpretation(17.0, false), ("H", "High"));
        let hdl = test("hdl").expect("hdl");
        assert_eq!(hdl.interpretation(90.0, true), ("N", "Normal"));
        let protein = test("uprot").expect("uprot");
        assert_eq!(protein.kind, TestKind::Presence);
        assert_eq!(protein.finding(0.3, true), NEGATIVE);
        assert_eq!(protein.interpretation(0.3, true), ("N", "Normal"));
        assert_eq!(protein.finding(2.5, false), POSITIVE);
        assert_eq!(protein.interpretation(2.5, false), ("A", "Abnormal"));
        assert_eq!(test("hba1c").map(|t| t.rounded(5.64)), Some(5.6));
        assert_eq!(test("usg").map(|t| t.specimen_type.snomed().0), Some("122575003"));
        let (bmp, renal, cbc) =
            (panel("bmp").expect("bmp"), panel("renal").expect("renal"), panel("cbc").expect("cbc"));
        assert!(bmp.overlaps(renal) && !bmp.overlaps(cbc));
    }
}
