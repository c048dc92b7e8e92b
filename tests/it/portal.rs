//! The patient portal in real headless Chromium (WebDriver), on both backends: the demo users
//! log in through the SMART flow and do what IKP's users do; a logged-out browser and another
//! user's session learn nothing; every screen passes axe-core's WCAG 2.1 AA checks with no serious
//! or critical violation; screenshots and each screen's transferred bytes are saved as test
//! artifacts (`target/test-artifacts/portal/`).

use std::fmt::Write as _;

use serde_json::json;

use crate::common::TestServer;
use crate::common::chromium::{Browser, artifacts};

const JAN: &str = "80051412351";
const ANNA: &str = "85030204565";
const KRYSTYNA_PATIENT: &str = "Patient/demo-krystyna-nowak";

/// Every screen of the menu (path, name for the artifacts).
const SCREENS: &[(&str, &str)] = &[
    ("/", "dashboard"),
    ("/recepty", "prescriptions"),
    ("/skierowania", "referrals"),
    ("/dokumenty", "documents"),
    ("/wyniki", "results"),
    ("/wizyty", "visits"),
    ("/szczepienia", "vaccinations"),
    ("/rejestracja", "registration"),
    ("/poz", "primary-care"),
    ("/ekuz", "ehic"),
    ("/zwolnienia", "sick-leave"),
    ("/ubezpieczenie", "insurance"),
    ("/uprawnienia", "authorisations"),
    ("/historia-dostepu", "access-log"),
    ("/konta", "accounts"),
];

/// Runs a scenario on a demo server with authorization on, on SQLite and on PostgreSQL.
macro_rules! in_browser {
    ($($name:ident),* $(,)?) => { $(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let server = $crate::common::TestServer::sqlite_configured($crate::common::auth_on).await;
                super::$name(&server).await;
                server.stop().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(server) = $crate::common::TestServer::postgres_configured($crate::common::auth_on).await else { return };
                super::$name(&server).await;
                server.stop().await;
            }
        }
    )* };
}

in_browser!(
    anna_switches_to_zofia_and_sees_her_antibiotic,
    jan_is_told_why_he_cannot_book_mammography,
    anna_books_cytology,
    anna_gives_dr_nowak_access_with_a_one_time_code,
    jan_revokes_krystynas_proxy,
    a_logged_out_browser_sees_nothing,
    one_session_never_shows_another_users_data,
    every_screen_passes_the_accessibility_checks,
    jan_lets_anna_see_his_record_but_not_act_for_him,
    a_slot_taken_meanwhile_is_explained,
    anna_registers_zofia_for_hpv_and_the_trail_shows_it,
    jan_chooses_his_doctor_and_applies_for_an_ehic,
);

fn site(server: &TestServer) -> String {
    server.base.trim_end_matches("/fhir").to_string()
}

async fn browser(server: &TestServer) -> Option<Browser> {
    Browser::open(&site(server)).await
}

/// The artifact name of a screenshot: backend first, so both runs keep theirs.
fn shot(server: &TestServer, name: &str) -> String {
    format!("{}-{name}", server.backend)
}

async fn anna_switches_to_zofia_and_sees_her_antibiotic(server: &TestServer) {
    let Some(anna) = browser(server).await else { return };
    anna.log_in(ANNA).await;
    assert_eq!(anna.path().await, "/");
    let text = anna.text().await;
    assert!(text.contains("Twoje konto: Anna Kowalska"), "{text}");
    anna.visit("/konta").await;
    anna.screenshot(&shot(server, "anna-accounts")).await;
    anna.click_button_in_card("Zofia Kowalska", "Pokaż to konto").await;
    let text = anna.text().await;
    assert!(text.contains("Konto dziecka: Zofia Kowalska"), "the banner names the child: {text}");
    anna.visit("/recepty").await;
    let text = anna.text().await;
    assert!(text.contains("kod dostępu 4321"), "the package's access code: {text}");
    assert!(text.contains("antybiotyk (ważna 7 dni)"), "the antibiotic: {text}");
    assert!(text.contains("Wystawiona"), "its status: {text}");
    assert!(text.contains("1 tabletka 2 razy dziennie"), "its dosage: {text}");
    assert!(text.contains("Piotr Nowak"), "its prescriber: {text}");
    anna.screenshot(&shot(server, "zofia-prescriptions")).await;
    // And in English.
    anna.click_css("a.lang").await;
    anna.wait_for_path(|p| p == "/recepty").await;
    let text = anna.text().await;
    assert!(text.contains("access code 4321") && text.contains("antibiotic (valid 7 days)"), "{text}");
    assert!(text.contains("Child's account: Zofia Kowalska"), "{text}");
    anna.screenshot(&shot(server, "zofia-prescriptions-en")).await;
    anna.close().await;
}

async fn jan_is_told_why_he_cannot_book_mammography(server: &TestServer) {
    let Some(jan) = browser(server).await else { return };
    jan.log_in(JAN).await;
    jan.visit("/rejestracja").await;
    jan.click_first_button_in_section("Mammografia").await;
    let notice = jan.text_of(".notice-error").await;
    assert!(notice.contains("Nie można zarezerwować") && notice.contains("kobiet w wieku 45–74"), "{notice}");
    jan.screenshot(&shot(server, "jan-mammography-refused")).await;
    // Nothing was booked.
    let token = server.token(Some("Patient/demo-jan-kowalski"), None, "user/*.rs").await;
    let bookings = crate::common::json(server.get_as(&token, "Appointment?patient=demo-jan-kowalski&service-type=https://ikp.example.org/fhir/CodeSystem/pl-cer-service|mammography").await).await;
    assert_eq!(bookings["total"], 0, "{bookings}");
    jan.close().await;
}

async fn anna_books_cytology(server: &TestServer) {
    let Some(anna) = browser(server).await else { return };
    anna.log_in(ANNA).await;
    anna.visit("/rejestracja").await;
    anna.click_first_button_in_section("Cytologia").await;
    let notice = anna.text_of(".notice-ok").await;
    assert!(notice.contains("Zarezerwowano termin"), "{notice}");
    let bookings = anna.section_text("Twoje rezerwacje").await;
    assert!(bookings.contains("Cytologia"), "{bookings}");
    anna.screenshot(&shot(server, "anna-cytology-booked")).await;
    // The API agrees: Anna has one cytology appointment.
    let token = server.token(Some("Patient/demo-anna-kowalska"), None, "user/*.rs").await;
    let booked = crate::common::json(server.get_as(&token, "Appointment?patient=demo-anna-kowalska&service-type=https://ikp.example.org/fhir/CodeSystem/pl-cer-service|cytology&status=booked").await).await;
    assert_eq!(booked["total"], 1, "{booked}");
    anna.close().await;
}

async fn anna_gives_dr_nowak_access_with_a_one_time_code(server: &TestServer) {
    let Some(anna) = browser(server).await else { return };
    anna.log_in(ANNA).await;
    anna.visit("/uprawnienia").await;
    anna.click_button("Wygeneruj kod").await;
    let notice = anna.text_of(".notice-ok").await;
    let code: String = notice
        .split(|c: char| !c.is_ascii_digit())
        .find(|part| part.len() == 8)
        .unwrap_or_else(|| panic!("an 8-digit code in {notice}"))
        .to_string();
    anna.screenshot(&shot(server, "anna-one-time-code")).await;
    // Dr Nowak, in his own system, enters the code with Anna's PESEL.
    let doctor = server.token(Some("Practitioner/demo-piotr-nowak"), None, "user/*.cruds").await;
    let redeem = json!({"resourceType": "Parameters", "parameter": [
        {"name": "pesel", "valueString": ANNA}, {"name": "code", "valueString": code}]});
    let r = server.post_as(&doctor, "Patient/$redeem-access-code", Some(&redeem)).await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap_or_default());
    anna.visit("/uprawnienia").await;
    let current = anna.section_text("Upoważnienia do tego konta").await;
    assert!(current.contains("Piotr Nowak") && current.contains("Lekarz: dostęp na 24 godziny"), "{current}");
    anna.screenshot(&shot(server, "anna-authorisations-doctor")).await;
    anna.close().await;
}

async fn jan_revokes_krystynas_proxy(server: &TestServer) {
    let krystyna = server.token(Some(KRYSTYNA_PATIENT), None, "user/*.rs").await;
    assert_eq!(server.get_as(&krystyna, "Patient/demo-jan-kowalski").await.status(), 200, "her proxy works first");
    let Some(jan) = browser(server).await else { return };
    jan.log_in(JAN).await;
    jan.visit("/uprawnienia").await;
    let before = jan.section_text("Upoważnienia do tego konta").await;
    assert!(before.contains("Krystyna Nowak") && before.contains("Wgląd i działanie w moim imieniu"), "{before}");
    jan.click_button_in_card("Krystyna Nowak", "Cofnij upoważnienie").await;
    let notice = jan.text_of(".notice-ok").await;
    assert!(notice.contains("cofnięte"), "{notice}");
    let after = jan.section_text("Upoważnienia do tego konta").await;
    assert!(!after.contains("Krystyna Nowak"), "{after}");
    jan.screenshot(&shot(server, "jan-revoked-krystyna")).await;
    assert_eq!(server.get_as(&krystyna, "Patient/demo-jan-kowalski").await.status(), 404, "her access ended at once");
    jan.close().await;
}

async fn jan_lets_anna_see_his_record_but_not_act_for_him(server: &TestServer) {
    let (Some(jan), Some(anna)) = (browser(server).await, browser(server).await) else { return };
    jan.log_in(JAN).await;
    jan.visit("/uprawnienia").await;
    // The person form: the first kind is "may see my data" (proxy-read).
    jan.fill("#person-pesel", ANNA).await;
    jan.fill("#person-family", "Kowalska").await;
    jan.click_button("Nadaj upoważnienie").await;
    let notice = jan.text_of(".notice-ok").await;
    assert!(notice.contains("nadane"), "{notice}");
    let granted = jan.section_text("Upoważnienia do tego konta").await;
    assert!(granted.contains("Kowalska") && granted.contains("Wgląd w moje dane"), "{granted}");
    jan.screenshot(&shot(server, "jan-granted-anna")).await;
    // Anna now has Jan's account, to read.
    anna.log_in(ANNA).await;
    anna.visit("/konta").await;
    let accounts = anna.section_text("Dostępne konta").await;
    assert!(accounts.contains("Jan Kowalski") && accounts.contains("Upoważnił(a) Cię"), "{accounts}");
    anna.click_button_in_card("Jan Kowalski", "Pokaż to konto").await;
    assert!(anna.text().await.contains("Konto osoby, która Cię upoważniła: Jan Kowalski"));
    anna.visit("/recepty").await;
    assert!(anna.text().await.contains("kod dostępu 1234"), "she may read his prescriptions");
    // But not act for him: the refusal is a sentence, and nothing is booked.
    anna.visit("/rejestracja").await;
    anna.click_first_button_in_section("Cytologia").await;
    let refusal = anna.text_of(".notice-error").await;
    assert!(refusal.contains("Nie masz uprawnień"), "{refusal}");
    anna.screenshot(&shot(server, "anna-proxy-read-refused")).await;
    let token = server.token(Some("Patient/demo-jan-kowalski"), None, "user/*.rs").await;
    let booked = crate::common::json(server.get_as(&token, "Appointment?patient=demo-jan-kowalski&service-type=https://ikp.example.org/fhir/CodeSystem/pl-cer-service|cytology").await).await;
    assert_eq!(booked["total"], 0, "{booked}");
    jan.close().await;
    anna.close().await;
}

async fn a_slot_taken_meanwhile_is_explained(server: &TestServer) {
    let Some(anna) = browser(server).await else { return };
    anna.log_in(ANNA).await;
    anna.visit("/rejestracja").await;
    // While the page is open, the first cytology slot is booked elsewhere (here: through the API).
    let token = server.token(Some("Patient/demo-anna-kowalska"), None, "user/*.cruds").await;
    let book = json!({"resourceType": "Parameters", "parameter": [{"name": "patient", "valueString": "Patient/demo-anna-kowalska"}]});
    let r = server.post_as(&token, "Slot/demo-cer-cytologia-1/$book", Some(&book)).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
    anna.click_first_button_in_section("Cytologia").await;
    let refusal = anna.text_of(".notice-error").await;
    assert!(refusal.contains("Ktoś właśnie to zmienił"), "{refusal}");
    anna.screenshot(&shot(server, "anna-slot-taken")).await;
    anna.close().await;
}

async fn anna_registers_zofia_for_hpv_and_the_trail_shows_it(server: &TestServer) {
    let Some(anna) = browser(server).await else { return };
    anna.log_in(ANNA).await;
    anna.visit("/konta").await;
    anna.click_button_in_card("Zofia Kowalska", "Pokaż to konto").await;
    anna.visit("/szczepienia").await;
    let given = anna.section_text("Wykonane szczepienia").await;
    assert!(!given.contains("Brak zapisanych szczepień"), "Zofia's vaccinations are listed: {given}");
    anna.click_first_button_in_section("Szczepienie przeciw HPV").await;
    let notice = anna.text_of(".notice-ok").await;
    assert!(notice.contains("Zarezerwowano termin"), "{notice}");
    assert!(anna.section_text("Twoje rezerwacje").await.contains("HPV"), "the booking is on Zofia's account");
    anna.screenshot(&shot(server, "zofia-hpv-booked")).await;
    // Zofia's access log names who looked and booked: her mother.
    anna.visit("/historia-dostepu").await;
    let trail = anna.section_text("Ostatnie zdarzenia").await;
    assert!(trail.contains("Anna Kowalska") || trail.contains("Patient/demo-anna-kowalska"), "{trail}");
    assert!(trail.contains("Appointment"), "the booking is in the trail: {trail}");
    anna.screenshot(&shot(server, "zofia-access-log")).await;
    anna.close().await;
}

async fn jan_chooses_his_doctor_and_applies_for_an_ehic(server: &TestServer) {
    let Some(jan) = browser(server).await else { return };
    jan.log_in(JAN).await;
    jan.visit("/poz").await;
    // The first role (doctor) and the first practitioner's role offered.
    jan.click_button("Złóż deklarację").await;
    let notice = jan.text_of(".notice-ok").await;
    assert!(notice.contains("Deklaracja została złożona"), "{notice}");
    let declarations = jan.section_text("Twoje deklaracje").await;
    assert!(declarations.contains("Lekarz POZ") && declarations.contains("Aktualny wybór"), "{declarations}");
    jan.screenshot(&shot(server, "jan-primary-care-chosen")).await;
    jan.visit("/ekuz").await;
    jan.click_button("Złóż wniosek o EKUZ").await;
    let notice = jan.text_of(".notice-ok").await;
    assert!(notice.contains("Wniosek został złożony"), "{notice}");
    assert!(jan.section_text("Twoje wnioski").await.contains("Przyjęty"));
    // A second application while one is open (409): said as what it means here.
    jan.click_button("Złóż wniosek o EKUZ").await;
    let refusal = jan.text_of(".notice-error").await;
    assert!(refusal.contains("Masz już wniosek o EKUZ"), "{refusal}");
    jan.screenshot(&shot(server, "jan-ehic-applied")).await;
    jan.close().await;
}

async fn a_logged_out_browser_sees_nothing(server: &TestServer) {
    let Some(stranger) = browser(server).await else { return };
    for (path, _) in SCREENS.iter().chain(&[("/dokumenty/demo-dok-opis-rtg-anna", "document")]) {
        stranger.visit(path).await;
        assert_eq!(stranger.path().await, "/", "{path} sends a stranger to the start page");
        let text = stranger.text().await;
        for secret in ["4321", "kod dostępu", "Metformax", "Wyloguj", "Twoje konto", "Konto dziecka"] {
            assert!(!text.contains(secret), "{path} shows {secret} to a stranger");
        }
    }
    stranger.screenshot(&shot(server, "logged-out")).await;
    // A forged session cookie opens nothing either.
    let forged = format!("document.cookie = 'ikp_portal={}; path=/'", "A".repeat(120));
    stranger.execute(&forged).await;
    stranger.visit("/recepty").await;
    assert_eq!(stranger.path().await, "/");
    stranger.close().await;
    // Nor does a form posted without a login: nothing is granted.
    let site = site(server);
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let r = http
        .post(format!("{site}/uprawnienia"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf=&action=grant-person&category=proxy-read&pesel={JAN}&family=Kowalski"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 303);
    let admin = server.admin_token().await;
    let granted =
        crate::common::json(server.get_as(&admin, "Consent?actor=Patient/demo-jan-kowalski&_summary=count").await)
            .await;
    assert_eq!(granted["total"], 0, "{granted}");
}

async fn one_session_never_shows_another_users_data(server: &TestServer) {
    let (Some(jan), Some(anna)) = (browser(server).await, browser(server).await) else { return };
    jan.log_in(JAN).await;
    anna.log_in(ANNA).await;
    jan.visit("/recepty").await;
    anna.visit("/recepty").await;
    let (jans, annas) = (jan.text().await, anna.text().await);
    assert!(jans.contains("kod dostępu 1234") && !jans.contains("4321"), "{jans}");
    assert!(
        !annas.contains("1234") && !annas.contains("Metformax"),
        "Anna's own account has no prescriptions: {annas}"
    );
    // Jan asks for Zofia's account with his own form token: the API does not show her to him.
    let csrf = jan.attribute("input[name=csrf]", "value").await;
    let script = format!(
        "const f = document.createElement('form'); f.method = 'post'; f.action = '/konta';\
         for (const [k, v] of [['csrf', '{csrf}'], ['patient', 'demo-zofia-kowalska']]) {{\
           const i = document.createElement('input'); i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i); }}\
         document.body.appendChild(f); f.submit();"
    );
    jan.execute(&script).await;
    jan.wait_for_path(|p| p == "/konta").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let text = jan.text().await;
    assert!(text.contains("Nie znaleziono") && text.contains("Twoje konto: Jan Kowalski"), "{text}");
    assert!(!text.contains("Zofia"), "{text}");
    // Nor a document of Anna's, by its id.
    jan.visit("/dokumenty/demo-dok-opis-rtg-anna").await;
    let text = jan.text().await;
    assert!(text.contains("Nie znaleziono"), "{text}");
    assert!(!text.to_lowercase().contains("rtg") && !text.contains("Opis badania"), "{text}");
    jan.screenshot(&shot(server, "jan-anna-document-refused")).await;
    // Anna's cookie in Jan's browser would be Anna's session; the cookie is HttpOnly, so no
    // script on a page can read it to carry it elsewhere.
    let readable = anna.execute("return document.cookie").await;
    assert!(!readable.as_str().unwrap_or_default().contains("ikp_portal="), "{readable}");
    jan.close().await;
    anna.close().await;
}

async fn every_screen_passes_the_accessibility_checks(server: &TestServer) {
    let Some(browser) = browser(server).await else { return };
    let mut problems = Vec::new();
    let mut costs = String::new();
    browser.visit("/").await;
    check_screen(server, &browser, "landing", &mut problems, &mut costs).await;
    browser.click_button("Zaloguj się").await;
    check_screen(server, &browser, "login", &mut problems, &mut costs).await;
    browser.fill("input[name=pesel]", ANNA).await;
    browser.fill("input[name=password]", "demo").await;
    browser.click_css("form button[type=submit]").await;
    browser.wait_for_path(|p| p == "/").await;
    // The first screen after logging in (the dashboard), as the browser measured it.
    check_screen(server, &browser, "first-screen-after-login", &mut problems, &mut costs).await;
    for (path, name) in SCREENS {
        browser.visit(path).await;
        check_screen(server, &browser, &format!("anna-{name}"), &mut problems, &mut costs).await;
    }
    browser.visit("/dokumenty/demo-dok-opis-rtg-anna").await;
    check_screen(server, &browser, "anna-document", &mut problems, &mut costs).await;
    // The child's account, and English.
    browser.visit("/konta").await;
    browser.click_button_in_card("Zofia Kowalska", "Pokaż to konto").await;
    browser.visit("/szczepienia").await;
    check_screen(server, &browser, "zofia-vaccinations", &mut problems, &mut costs).await;
    browser.click_css("a.lang").await;
    browser.wait_for_path(|p| p == "/szczepienia").await;
    browser.visit("/wyniki").await;
    check_screen(server, &browser, "zofia-results-en", &mut problems, &mut costs).await;
    // On a phone's screen.
    browser.click_css("a.lang").await;
    browser.resize(390, 844).await;
    for (path, name) in
        [("/", "dashboard"), ("/recepty", "prescriptions"), ("/wyniki", "results"), ("/uprawnienia", "authorisations")]
    {
        browser.visit(path).await;
        check_screen(server, &browser, &format!("phone-zofia-{name}"), &mut problems, &mut costs).await;
    }
    std::fs::write(artifacts().join(format!("{}-page-costs.tsv", server.backend)), costs).expect("costs saved");
    browser.close().await;
    assert!(problems.is_empty(), "serious or critical accessibility violations:\n{}", problems.join("\n"));
}

async fn check_screen(
    server: &TestServer,
    browser: &Browser,
    name: &str,
    problems: &mut Vec<String>,
    costs: &mut String,
) {
    browser.screenshot(&shot(server, name)).await;
    let (bytes, ms) = browser.page_cost().await;
    writeln!(costs, "{name}\t{bytes}\t{ms:.0}").ok();
    for violation in browser.accessibility_violations().await {
        problems.push(format!("{name}: {violation}"));
    }
}

/// With authorization off (the loopback default, where the README's first command runs), a
/// request without a token stays open, but one with a token is its caller's: the portal shows
/// Anna her own accounts, not everyone's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_authorization_off_a_token_still_confines_its_caller() {
    let server = TestServer::sqlite_configured(|args| args.demo = Some(true)).await;
    assert!(!server.state().enforce_auth, "the loopback default is open");
    let jan = "Patient/demo-jan-kowalski";
    assert_eq!(server.get(jan).send().await.expect("get").status(), 200, "no token: open");
    let anna = server.token(Some("Patient/demo-anna-kowalska"), None, "user/*.rs").await;
    assert_eq!(server.get_as(&anna, jan).await.status(), 404, "Anna's token: not hers to see");
    let theirs = crate::common::json(server.get_as(&anna, "Patient?_elements=id").await).await;
    let mut ids: Vec<&str> =
        theirs["entry"].as_array().into_iter().flatten().filter_map(|e| e["resource"]["id"].as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["demo-anna-kowalska", "demo-zofia-kowalska"]);
    let bad = server.get(jan).bearer_auth("not-a-token").send().await.expect("get");
    assert_eq!(bad.status(), 401, "a token that is brought is checked");
    if let Some(browser) = Browser::open(&site(&server)).await {
        browser.log_in(ANNA).await;
        browser.visit("/konta").await;
        let accounts = browser.section_text("Dostępne konta").await;
        assert!(accounts.contains("Anna Kowalska") && accounts.contains("Zofia Kowalska"), "{accounts}");
        assert!(!accounts.contains("Jan Kowalski") && !accounts.contains("Krystyna"), "{accounts}");
        browser.close().await;
    }
    server.stop().await;
}

/// Logging in to the portal through the national identity provider (an upstream OpenID Connect
/// login, here the certified node `oidc-provider`), in the browser: our login page offers it, the
/// provider logs Jan in, and he lands on his dashboard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_national_identity_provider_sqlite() {
    through_the_national_identity_provider(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_national_identity_provider_postgres() {
    through_the_national_identity_provider(true).await;
}

async fn through_the_national_identity_provider(postgres: bool) {
    let Some((server, _provider)) = crate::smart_oidc_provider::servers(postgres).await else { return };
    if let Some(jan) = browser(&server).await {
        jan.visit("/").await;
        jan.click_button("Zaloguj się").await;
        jan.click_css("a[href*='/auth/upstream']").await;
        jan.wait_for_path(|p| p.starts_with("/interaction/")).await;
        // The provider's login (a test provider: its form is posted by script).
        let login = format!(
            "const f = document.createElement('form'); f.method = 'post'; f.action = location.pathname + '/login';\
             for (const [k, v] of [['sub', '{JAN}'], ['acr', '{}']]) {{\
               const i = document.createElement('input'); i.name = k; i.value = v; f.appendChild(i); }}\
             document.body.appendChild(f); f.submit();",
            crate::smart_oidc_provider::SUBSTANTIAL
        );
        jan.execute(&login).await;
        jan.wait_for_path(|p| p == "/").await;
        let text = jan.text().await;
        assert!(text.contains("Zalogowano: Jan Kowalski") && text.contains("Twoje konto: Jan Kowalski"), "{text}");
        jan.screenshot(&shot(&server, "jan-upstream-login")).await;
        jan.close().await;
    }
    server.stop().await;
}

/// A form body larger than any of the portal's forms is refused before it is read, and a request
/// the portal does not understand is never a 5xx.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_malformed_forms_are_refused_without_a_server_error() {
    let server = TestServer::sqlite_configured(crate::common::auth_on).await;
    let site = site(&server);
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let post = |path: &str, body: String| {
        http.post(format!("{site}{path}")).header("content-type", "application/x-www-form-urlencoded").body(body).send()
    };
    let huge = format!("csrf=&action=code&x={}", "a".repeat(ikp_portal::MAX_FORM_BYTES + 1));
    assert_eq!(post("/uprawnienia", huge).await.expect("post").status(), 413);
    for (path, body) in [
        ("/uprawnienia", "%%%".to_string()),
        ("/rejestracja", "action=book&slot=../../Patient".to_string()),
        ("/konta", "patient=a%00b".to_string()),
        ("/wyloguj", String::new()),
    ] {
        let status = post(path, body).await.expect("post").status();
        assert!(status.is_redirection() || status.is_client_error(), "{path}: {status}");
    }
    for path in
        ["/callback?code=x&state=y", "/callback?error=access_denied", "/dokumenty/..%2F..", "/jezyk?back=//evil"]
    {
        let status = http.get(format!("{site}{path}")).send().await.expect("get").status();
        assert!(!status.is_server_error(), "{path}: {status}");
    }
    server.stop().await;
}
