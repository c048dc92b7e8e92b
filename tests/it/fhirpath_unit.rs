//! Unit tests for the hard parts: partial dates, primitive extensions, choice types,
//! resolve() stubs, three-valued logic, singleton rules, robustness.

use ikp::fhirpath::{Environment, Error, Expression, ModelInfo, ReferenceResolver, to_json};
use serde_json::{Value as Json, json};

fn model() -> &'static ikp::model::Model {
    ikp::model::r4().expect("model")
}

fn eval_with(expr: &str, res: &Json, typed: bool) -> Result<Json, Error> {
    let e = Expression::parse(expr)?;
    let env = if typed { Environment::new().with_model(model()) } else { Environment::new() };
    let r = e.evaluate(&env, res)?;
    Ok(to_json(&r))
}

fn ev(expr: &str, res: &Json) -> Json {
    eval_with(expr, res, true).unwrap_or_else(|e| panic!("{expr}: {e}"))
}

fn ev_untyped(expr: &str, res: &Json) -> Json {
    eval_with(expr, res, false).unwrap_or_else(|e| panic!("{expr}: {e}"))
}

fn empty() -> Json {
    json!({"resourceType": "Basic"})
}

// ---------- partial dates ----------

#[test]
fn partial_date_comparison() {
    let r = empty();
    assert_eq!(ev("@2018-03 < @2018-03-01", &r), json!([]));
    assert_eq!(ev("@2018-03 < @2018-04-01", &r), json!([true]));
    assert_eq!(ev("@2018 = @2018-01", &r), json!([]));
    assert_eq!(ev("@2017 < @2018-01", &r), json!([true]));
    assert_eq!(ev("@2018-03-01T10:30 < @2018-03-01T10:30:00", &r), json!([]));
    assert_eq!(ev("@2018-03-01T10:30:00 = @2018-03-01T10:30:00.000", &r), json!([true]));
    assert_eq!(ev("@2012-04-15T15:00:00+02:00 = @2012-04-15T16:00:00+03:00", &r), json!([true]));
    assert_eq!(ev("@2012-04-15T23:30:00-02:00 > @2012-04-16T00:30:00Z", &r), json!([true]));
    assert_eq!(ev("@2012-04-15T15:00:00Z = @2012-04-15T15:00:00", &r), json!([]));
    assert_eq!(ev("@2012-04-15 ~ @2012-04-15T10:00:00", &r), json!([false]));
    assert_eq!(ev("@2012-04-15 = @2012-04-15T10:00:00", &r), json!([]));
    assert_eq!(ev("@2012-04-14 < @2012-04-15T10:00:00", &r), json!([true]));
    assert_eq!(ev("@T10:30 < @T10:30:00", &r), json!([]));
    assert_eq!(ev("@T10:29 < @T10:30:00", &r), json!([true]));
    // typed data: a FHIR date is compared as a Date
    let p = json!({"resourceType": "Patient", "birthDate": "1974-12"});
    assert_eq!(ev("birthDate < @1974-12-25", &p), json!([]));
    assert_eq!(ev("birthDate < @1975-01-01", &p), json!([true]));
    assert_eq!(ev("birthDate = @1974-12", &p), json!([true]));
}

#[test]
fn date_arithmetic() {
    let r = empty();
    assert_eq!(ev("@2020-01-31 + 1 month", &r), json!(["2020-02-29"]));
    assert_eq!(ev("@2019-02-28T23:00:00Z + 2 hours", &r), json!(["2019-03-01T01:00:00Z"]));
    assert_eq!(ev("@2019-03-01 - 1 'd'", &r), json!(["2019-02-28"]));
    assert_eq!(ev("@T23:30 + 1 hour", &r), json!(["00:30"]));
    assert!(eval_with("@2019-03-01 + 1 'mo'", &r, true).is_err());
}

// ---------- primitive extensions ----------

#[test]
fn primitive_extensions() {
    let p = json!({
        "resourceType": "Patient",
        "birthDate": "1970-01-01",
        "_birthDate": {"extension": [{"url": "http://x/birthTime", "valueDateTime": "1970-01-01T10:00:00Z"}]},
        "name": [{"given": ["A", null, "C"], "_given": [null, {"extension": [{"url": "http://x/e", "valueString": "B"}]}, {"id": "g3"}]}],
        "_gender": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]}
    });
    for typed in [true, false] {
        let e = |x: &str| eval_with(x, &p, typed).expect(x);
        assert_eq!(e("birthDate.extension('http://x/birthTime').value"), json!(["1970-01-01T10:00:00Z"]));
        assert_eq!(e("name.given"), json!(["A", {"extension": [{"url": "http://x/e", "valueString": "B"}]}, "C"]));
        assert_eq!(e("name.given.count()"), json!([3]));
        assert_eq!(e("name.given.select($this.hasValue())"), json!([true, false, true]));
        assert_eq!(e("name.given[1].extension.value"), json!(["B"]));
        assert_eq!(e("name.given[2].id"), json!(["g3"]));
        assert_eq!(e("name.given.where(hasValue()) = 'A' | 'C'"), json!([true]));
        // a primitive with only the `_x` part exists but has no value
        assert_eq!(e("gender.exists()"), json!([true]));
        assert_eq!(e("gender.hasValue()"), json!([false]));
        assert_eq!(e("gender.extension.value"), json!(["unknown"]));
        assert_eq!(e("gender = 'male'"), json!([]));
    }
    assert_eq!(ev("birthDate.getValue() = @1970-01-01", &p), json!([true]));
    assert_eq!(ev("birthDate.is(date)", &p), json!([true]));
}

// ---------- choice types ----------

#[test]
fn choice_types() {
    let o: Json = serde_json::from_str(
        r#"{
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "x"},
        "valueQuantity": {"value": 1.50, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"},
        "effectiveDateTime": "2020-01-01",
        "component": [{"code": {"text": "a"}, "valueString": "s"}, {"code": {"text": "b"}, "valueBoolean": true}]
    }"#,
    )
    .expect("json");
    assert_eq!(ev("Observation.value.value", &o).to_string(), "[1.50]");
    assert_eq!(ev("Observation.value is Quantity", &o), json!([true]));
    assert_eq!(ev("Observation.value is FHIR.Quantity", &o), json!([true]));
    assert_eq!(ev("Observation.value is String", &o), json!([false]));
    assert_eq!(ev("Observation.value.as(Quantity).unit", &o), json!(["mg"]));
    assert_eq!(ev("(Observation.value as Period).start", &o), json!([]));
    assert_eq!(ev("Observation.value = 1500 'ug'", &o), json!([true]));
    assert_eq!(ev("Observation.value > 1 'mg'", &o), json!([true]));
    assert_eq!(ev("Observation.effective.is(dateTime)", &o), json!([true]));
    assert_eq!(ev("Observation.effective < @2021", &o), json!([true]));
    assert_eq!(ev("Observation.component.value.ofType(string)", &o), json!(["s"]));
    assert_eq!(ev("Observation.component.value.ofType(boolean)", &o), json!([true]));
    assert_eq!(ev("Observation.component.value.type().name", &o), json!(["string", "boolean"]));
    assert_eq!(ev("Observation.children().count()", &o), json!([6]));
    // without a model, choice elements are still found by key
    assert_eq!(ev_untyped("Observation.value.unit", &o), json!(["mg"]));
    assert_eq!(ev_untyped("Observation.value is Quantity", &o), json!([true]));
    assert_eq!(ev_untyped("Observation.value > 1 'mg'", &o), json!([true]));
    // strict checking rejects the JSON name of a choice element
    let e = Expression::parse("Observation.valueQuantity.unit").expect("parse");
    assert!(e.check(model(), "Observation", Default::default()).is_err());
    assert!(
        Expression::parse("Observation.value.unit")
            .expect("parse")
            .check(model(), "Observation", Default::default())
            .is_ok()
    );
}

// ---------- resolve ----------

struct Ext;
impl ReferenceResolver for Ext {
    fn resolve(&self, reference: &str) -> Option<Json> {
        (reference == "Practitioner/ext").then(|| json!({"resourceType": "Practitioner", "id": "ext", "active": true}))
    }
}

#[test]
fn resolve_stubs_contained_bundle_and_hook() {
    let o = json!({
        "resourceType": "Observation",
        "contained": [{"resourceType": "Patient", "id": "p1", "gender": "female"}],
        "subject": {"reference": "Patient/123"},
        "performer": [
            {"reference": "http://example.org/fhir/Practitioner/9/_history/2"},
            {"reference": "#p1"},
            {"type": "Organization", "identifier": {"value": "x"}},
            {"reference": "urn:uuid:abc"},
            {"reference": "Practitioner/ext"}
        ]
    });
    assert_eq!(ev("subject.resolve() is Patient", &o), json!([true]));
    assert_eq!(ev("subject.where(resolve() is Patient)", &o), json!([{"reference": "Patient/123"}]));
    assert_eq!(ev("subject.where(resolve() is Group)", &o), json!([]));
    assert_eq!(ev("subject.resolve().gender", &o), json!([]));
    assert_eq!(
        ev("performer.resolve().type().name", &o),
        json!(["Practitioner", "Patient", "Organization", "Practitioner"])
    );
    assert_eq!(ev("performer[1].resolve().gender", &o), json!(["female"]));
    assert_eq!(ev_untyped("subject.resolve() is Patient", &o), json!([true]));
    // external resolver hook
    let r = Ext;
    let env = Environment::new().with_model(model()).with_resolver(&r);
    let e = Expression::parse("performer.resolve().ofType(Practitioner).active").expect("parse");
    assert_eq!(to_json(&e.evaluate(&env, &o).expect("eval")), json!([true]));

    // references inside a Bundle resolve to the entries
    let b = json!({
        "resourceType": "Bundle", "type": "collection",
        "entry": [
            {"fullUrl": "urn:uuid:abc", "resource": {"resourceType": "Patient", "id": "a", "gender": "male"}},
            {"fullUrl": "http://x/fhir/Patient/7", "resource": {"resourceType": "Patient", "id": "7", "gender": "other"}},
            {"fullUrl": "http://x/fhir/Observation/1", "resource": {"resourceType": "Observation", "subject": {"reference": "Patient/7"}, "performer": [{"reference": "urn:uuid:abc"}]}}
        ]
    });
    assert_eq!(ev("Bundle.entry.resource.ofType(Observation).subject.resolve().gender", &b), json!(["other"]));
    assert_eq!(ev("Bundle.entry.resource.ofType(Observation).performer.resolve().gender", &b), json!(["male"]));
    // an entry evaluated on its own, with the Bundle as %rootResource
    let obs = &b["entry"][2]["resource"];
    let env = Environment::new().with_model(model()).with_root_resource(&b);
    let e = Expression::parse("subject.resolve().gender | %rootResource.type").expect("parse");
    assert_eq!(to_json(&e.evaluate(&env, obs).expect("eval")), json!(["other", "collection"]));
}

// ---------- three-valued logic ----------

#[test]
fn three_valued_logic() {
    let r = empty();
    let vals = [("true", Some(true)), ("false", Some(false)), ("{}", None)];
    for (a, av) in vals {
        for (b, bv) in vals {
            let and = match (av, bv) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            };
            let or = match (av, bv) {
                (Some(true), _) | (_, Some(true)) => Some(true),
                (Some(false), Some(false)) => Some(false),
                _ => None,
            };
            let xor = match (av, bv) {
                (Some(x), Some(y)) => Some(x != y),
                _ => None,
            };
            let implies = match (av, bv) {
                (Some(false), _) => Some(true),
                (Some(true), x) => x,
                (None, Some(true)) => Some(true),
                _ => None,
            };
            for (op, want) in [("and", and), ("or", or), ("xor", xor), ("implies", implies)] {
                let got = ev(&format!("({a}) {op} ({b})"), &r);
                let want = want.map(|v| json!([v])).unwrap_or(json!([]));
                assert_eq!(got, want, "{a} {op} {b}");
            }
        }
        let not = av.map(|v| json!([!v])).unwrap_or(json!([]));
        assert_eq!(ev(&format!("({a}).not()"), &r), not);
    }
    // a single non-boolean item counts as true; more than one is an error
    assert_eq!(ev("'x' and true", &r), json!([true]));
    assert!(eval_with("(1 | 2) and true", &r, true).is_err());
}

// ---------- singletons, arithmetic, strings ----------

#[test]
fn singleton_rules_and_operators() {
    let p = json!({"resourceType": "Patient", "name": [{"given": ["a", "b"]}, {"given": ["c"]}]});
    assert!(eval_with("name.given.substring(1)", &p, true).is_err());
    assert!(eval_with("name.given + 'x'", &p, true).is_err());
    assert_eq!(ev("name.given.first() + 'x'", &p), json!(["ax"]));
    assert!(eval_with("name.given & 'x'", &p, true).is_err());
    assert_eq!(ev("1.50 + 1", &p).to_string(), "[2.50]");
    assert_eq!(ev("1 / 3 * 3 = 1", &p), json!([false]));
    assert_eq!(ev("(1 / 3).round(4)", &p).to_string(), "[0.3333]");
    assert_eq!(ev("'Hello  World' ~ 'hello world'", &p), json!([true]));
    assert_eq!(
        ev("5 'mg' + 1 'g'", &p),
        json!([{"value": 1005, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}])
    );
    assert_eq!(ev("2 'wk' = 14 days", &p), json!([true]));
    assert_eq!(ev("1 year = 12 months", &p), json!([true]));
    assert_eq!(ev("1 'a' = 1 year", &p), json!([]));
    assert_eq!(ev("1 '[in_i]' = 2.54 'cm'", &p), json!([true]));
    assert_eq!(
        ev("37 'kg/m2'.toQuantity('g/cm2')", &p).to_string(),
        r#"[{"value":3.70,"unit":"g/cm2","system":"http://unitsofmeasure.org","code":"g/cm2"}]"#
    );
    assert_eq!(ev("'abc'.matches('^a.c$')", &p), json!([true]));
    assert_eq!(ev("%`vs-administrative-gender`", &p), json!(["http://hl7.org/fhir/ValueSet/administrative-gender"]));
}

#[test]
fn collection_outputs() {
    let p = json!({"resourceType": "Patient", "birthDate": "2000-01-01"});
    assert_eq!(ev("birthDate + 1 year", &p), json!(["2001-01-01"]));
    assert_eq!(ev("@2020-01-01T10:00:00.000+01:00", &p), json!(["2020-01-01T10:00:00.000+01:00"]));
    assert_eq!(ev("@T10:00", &p), json!(["10:00"]));
    assert_eq!(ev("3 days", &p), json!([{"value": 3, "unit": "days"}]));
    assert_eq!(ev("1.0", &p).to_string(), "[1.0]");
    assert_eq!(ev("Patient", &p), json!([p.clone()]));
}

#[test]
fn untyped_navigation() {
    let data = json!({"a": {"b": [1, 2, {"c": "x"}]}, "resourceType": "Unknown"});
    assert_eq!(ev_untyped("a.b", &data), json!([1, 2, {"c": "x"}]));
    assert_eq!(ev_untyped("a.b.c", &data), json!(["x"]));
    assert_eq!(ev_untyped("a.b.ofType(Integer).where($this > 1)", &data).as_array().map(Vec::len), Some(1));
    assert_eq!(ev("a.b.c", &data), json!(["x"]));
    assert_eq!(ev_untyped("descendants().count()", &data), json!([5]));
}

#[test]
fn strict_mode_rejects_unknown_elements() {
    let p = json!({"resourceType": "Patient", "name": [{"family": "x"}]});
    let env = Environment::new().with_model(model()).with_strict(true);
    let e = Expression::parse("name.famly").expect("parse");
    assert!(e.evaluate(&env, &p).is_err());
    let e = Expression::parse("name.family").expect("parse");
    assert_eq!(to_json(&e.evaluate(&env, &p).expect("eval")), json!(["x"]));
}

#[test]
fn model_info_is_object_safe_and_used() {
    let m: &dyn ModelInfo = model();
    assert_eq!(m.base_type("Patient"), Some("DomainResource"));
    assert_eq!(m.base_type("Age"), Some("Quantity"));
    assert_eq!(
        m.element("Questionnaire.item", "item").map(|e| e.types.to_vec()),
        Some(vec!["Questionnaire.item".to_string()])
    );
    let q = json!({"resourceType": "Questionnaire", "status": "draft", "item": [{"linkId": "1", "type": "group", "item": [{"linkId": "1.1", "type": "string"}]}]});
    assert_eq!(ev("item.item.type().name", &q), json!(["Questionnaire.item"]));
    assert_eq!(ev("Questionnaire.repeat(item).linkId", &q), json!(["1", "1.1"]));
    assert_eq!(ev("Questionnaire is DomainResource and Questionnaire is Resource", &q), json!([true]));
}

// ---------- robustness ----------

#[test]
fn syntax_errors_are_errors() {
    for src in [
        "",
        "(",
        ")",
        "a.",
        "a..b",
        "1 +",
        "'unterminated",
        "`x",
        "@",
        "@20x",
        "a[",
        "a[1",
        "f(",
        "where(",
        "1 2",
        "$foo",
        "%",
        "a.b(",
        "x is",
        "{",
        "{1}",
        "/* open",
        "nosuchfunction()",
        "a.where()",
        "@2020-13-01",
        "@T25:00",
        "'\\u12'",
        "1.2.3.",
        "and",
        "iif(1,2,3,4)",
    ] {
        assert!(Expression::parse(src).is_err(), "{src:?} should not parse");
    }
}

#[test]
fn deep_nesting_is_rejected_not_crashing() {
    let deep = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(Expression::parse(&deep).is_err());
    let chain = format!("a{}", ".b".repeat(10_000));
    assert!(Expression::parse(&chain).is_err());
    let sum = vec!["1"; 10_000].join(" + ");
    assert!(Expression::parse(&sum).is_err());
    let neg = format!("{}1", "-".repeat(10_000));
    assert!(Expression::parse(&neg).is_err());
    // moderately deep expressions evaluate fine
    let ok = vec!["1"; 100].join(" + ");
    assert_eq!(ev(&ok, &empty()), json!([100]));
}

#[test]
fn deep_data_is_handled() {
    // build a deep JSON value iteratively (serde_json parsing itself limits depth)
    let wrap = |inner: Json| {
        let mut m = serde_json::Map::new();
        m.insert("x".to_string(), inner);
        Json::Object(m)
    };
    let mut v = json!({"leaf": true});
    for _ in 0..5_000 {
        v = wrap(v);
    }
    let mut res = wrap(v);
    if let Some(m) = res.as_object_mut() {
        m.insert("resourceType".to_string(), json!("Basic"));
    }
    let e = Expression::parse("descendants().leaf").expect("parse");
    let env = Environment::new();
    let r = e.evaluate(&env, &res).expect("eval");
    assert_eq!(to_json(&r), json!([true]));
    let e = Expression::parse("x = x").expect("parse");
    assert!(e.evaluate(&env, &res).is_ok());
    // avoid a recursive drop of the deep value overflowing the stack
    let mut cur = res;
    while let Some(next) = cur.as_object_mut().and_then(|m| m.remove("x")) {
        cur = next;
    }
}

#[test]
fn no_panics_on_odd_inputs() {
    let inputs = [
        json!({"resourceType": "Patient", "name": "notAnArray", "birthDate": 12, "_birthDate": "x"}),
        json!({"resourceType": 5, "a": null, "_a": [null, null]}),
        json!([1, 2, 3]),
        json!(null),
        json!({"resourceType": "Observation", "valueQuantity": {"value": "NaN", "unit": 3}}),
    ];
    let exprs = [
        "name.given",
        "birthDate + 1 day",
        "birthDate.extension",
        "a",
        "descendants()",
        "children().type()",
        "value + 1 'mg'",
        "value.value.round(40)",
        "resolve()",
        "%resource.id",
        "(1 / 0)",
        "1 div 0",
        "'x'.substring(-5)",
        "'abc'.substring(1, -2)",
        "999999999999999999 * 999999999999999999",
        "@9999-12-31 + 1 day",
        "1.0.power(100000)",
        "'a'.matches('(' + '')",
        "'a'.replaceMatches('[' + '', 'b')",
        "now() - 10000000 years",
        "'1e400'.toDecimal()",
        "100000000000000000000000000000.0",
        "(1|2|3).aggregate($total + $this, 0)",
        "repeat($this)",
        "Patient.name.repeat(given)",
        "0.0034.lowBoundary(28)",
        "1.highBoundary(-1)",
        "'𝄞x'.indexOf('x')",
        "'𝄞x'.substring(1)",
        "@2014-01-01T08.highBoundary(4)",
        "trace('t', $this)",
        "type().namespace",
    ];
    for i in &inputs {
        let env = Environment::new().with_model(model());
        for src in exprs {
            let Ok(e) = Expression::parse(src) else {
                continue;
            };
            let _ = e.evaluate(&env, i);
            let _ = e.check(model(), "Patient", Default::default());
        }
    }
}

#[test]
fn maximum_depth_expressions_evaluate_without_overflow() {
    // the deepest accepted expressions must evaluate on a default 2 MiB test thread
    let r = json!({"resourceType": "Patient", "name": [{"given": ["a"]}]});
    let mut depth_ok = 0;
    for n in (10..400).step_by(10) {
        let src = format!("{}true{}", "name.where(".repeat(n), ")".repeat(n));
        match Expression::parse(&src) {
            Ok(e) => {
                let env = Environment::new().with_model(model());
                assert!(e.evaluate(&env, &r).is_ok());
                depth_ok = n;
            }
            Err(_) => break,
        }
    }
    assert!(depth_ok >= 50, "{depth_ok}");
    for n in (10..400).step_by(10) {
        let src = format!("{}1{}", "iif(true, ".repeat(n), ", 0)".repeat(n));
        let Ok(e) = Expression::parse(&src) else {
            break;
        };
        let env = Environment::new();
        assert_eq!(to_json(&e.evaluate(&env, &r).expect("eval")), json!([1]));
    }
    for n in (10..400).step_by(10) {
        let src = format!("{}1{}", "(-".repeat(n), ")".repeat(n));
        let Ok(e) = Expression::parse(&src) else {
            break;
        };
        let env = Environment::new();
        assert!(e.evaluate(&env, &r).is_ok());
    }
    let shapes: [(&str, &str, &str); 6] = [
        ("(1 + ", "1", ")"),
        ("'abc'.substring(", "0", ")"),
        ("name[", "0", "].exists().toInteger()"),
        ("name.select(", "given", ")"),
        ("(name | ", "name", ")"),
        ("'x'.combine(", "'y'", ")"),
    ];
    for (open, mid, close) in shapes {
        for n in (10..400).step_by(10) {
            let src = format!("{}{}{}", open.repeat(n), mid, close.repeat(n));
            let Ok(e) = Expression::parse(&src) else {
                break;
            };
            let env = Environment::new().with_model(model());
            let _ = e.evaluate(&env, &r);
            let _ = e.check(model(), "Patient", Default::default());
        }
    }
}

#[test]
fn random_token_soup_never_panics() {
    let atoms = [
        "name",
        "given",
        "Patient",
        "birthDate",
        "telecom",
        "value",
        "extension",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        ".",
        ",",
        "+",
        "-",
        "*",
        "/",
        "&",
        "|",
        "=",
        "!=",
        "~",
        "!~",
        "<",
        ">",
        "<=",
        ">=",
        " and ",
        " or ",
        " xor ",
        " implies ",
        " div ",
        " mod ",
        " in ",
        " contains ",
        " is ",
        " as ",
        "1",
        "2.5",
        "'a'",
        "'2020-01-01'",
        "@2020",
        "@2020-01-01T10:00",
        "@T10",
        "5 'mg'",
        "3 days",
        "$this",
        "$index",
        "$total",
        "%resource",
        "%context",
        "where(",
        "select(",
        "exists(",
        "first()",
        "count()",
        "resolve()",
        "ofType(",
        "as(",
        "is(",
        "iif(",
        "substring(",
        "toString()",
        "toInteger()",
        "children()",
        "descendants()",
        "repeat(",
        "aggregate(",
        "sort(",
        "lowBoundary(",
        "Quantity",
        "String",
        "true",
        "false",
        "not()",
        "empty()",
        "trace(",
        "`x`",
        "matches(",
        "'[a-z]+'",
        "distinct()",
        "union(",
        "combine(",
        "skip(",
        "take(",
        "single()",
        "hasValue()",
    ];
    let input: Json = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/fhirpath/r4-inputs-json/patient-example.json"
        ))
        .expect("read"),
    )
    .expect("json");
    let env = Environment::new().with_model(model());
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut parsed = 0;
    let iterations: usize = std::env::var("SOUP_ITERATIONS").ok().and_then(|s| s.parse().ok()).unwrap_or(20_000);
    for _ in 0..iterations {
        let len = 1 + (next() % 12) as usize;
        let src: String = (0..len).map(|_| atoms[(next() % atoms.len() as u64) as usize]).collect();
        if let Ok(e) = Expression::parse(&src) {
            parsed += 1;
            let _ = e.check(model(), "Patient", Default::default());
            let _ = e.evaluate(&env, &input);
        }
    }
    println!("{parsed} of {iterations} random expressions parsed");
    assert!(parsed > 100, "{parsed}");
}

#[test]
fn public_types_are_thread_safe() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Expression>();
    assert_send_sync::<Environment<'static>>();
    assert_send_sync::<ikp::fhirpath::Collection<'static>>();
}
