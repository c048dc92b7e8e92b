//! What a page shows, as data, and the one template that renders every page (`templates/page.html`,
//! HTML-escaped by askama): a screen is a list of sections of cards, tables, a chart and forms,
//! so each screen's module only says what to show.

use askama::Template;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};

/// A page's content.
#[derive(Default)]
pub struct Page {
    pub title: String,
    pub intro: Option<String>,
    pub notice: Option<Notice>,
    pub sections: Vec<Section>,
}

/// A message about what just happened (or failed), announced to screen readers.
pub struct Notice {
    pub text: String,
    /// `ok` or `error`.
    pub tone: &'static str,
}

#[derive(Default)]
pub struct Section {
    pub heading: String,
    pub intro: Option<String>,
    /// Shown when the section has no cards and no table rows.
    pub empty: Option<String>,
    pub cards: Vec<Card>,
    pub table: Option<Table>,
    /// An SVG drawn by [`crate::chart`] from numbers only (never text from the server).
    pub chart: Option<Chart>,
    pub forms: Vec<Form>,
}

impl Section {
    /// Nothing to list: no cards and no table rows (the `empty` sentence is shown).
    pub fn is_empty(&self) -> bool {
        self.cards.is_empty() && self.table.as_ref().is_none_or(|t| t.rows.is_empty())
    }
}

pub struct Chart {
    pub svg: String,
    /// What the chart shows, for screen readers (the same data is in the table beside it).
    pub label: String,
}

#[derive(Default)]
pub struct Card {
    pub title: String,
    pub badge: Option<Badge>,
    pub fields: Vec<(String, String)>,
    /// A link (href, label).
    pub link: Option<(String, String)>,
    pub actions: Vec<Form>,
}

pub struct Badge {
    pub text: String,
    /// `ok`, `warn`, `off` or `info`.
    pub tone: &'static str,
}

pub struct Table {
    pub caption: String,
    pub head: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

pub struct Cell {
    pub text: String,
    /// Set when the value is outside its reference range (`high` or `low`), with its words.
    pub flag: Option<(&'static str, String)>,
}

impl Cell {
    pub fn plain(text: impl Into<String>) -> Cell {
        Cell { text: text.into(), flag: None }
    }
}

pub struct Form {
    pub action: String,
    /// `post` (carries the login's CSRF token) or `get`.
    pub method: &'static str,
    pub hidden: Vec<(String, String)>,
    pub inputs: Vec<Input>,
    pub submit: String,
    /// A destructive action (revoke, cancel), drawn as such.
    pub danger: bool,
}

impl Form {
    pub fn post(action: &str, submit: impl Into<String>) -> Form {
        Form {
            action: action.to_string(),
            method: "post",
            hidden: Vec::new(),
            inputs: Vec::new(),
            submit: submit.into(),
            danger: false,
        }
    }

    pub fn hidden(mut self, name: &str, value: impl Into<String>) -> Form {
        self.hidden.push((name.to_string(), value.into()));
        self
    }

    pub fn input(mut self, input: Input) -> Form {
        self.inputs.push(input);
        self
    }

    pub fn danger(mut self) -> Form {
        self.danger = true;
        self
    }
}

pub struct Input {
    /// Unique on the page (the label's `for`).
    pub id: String,
    pub name: String,
    pub label: String,
    /// Options (value, label) for a select; empty for a text field.
    pub options: Vec<(String, String)>,
    /// `text`, `date` or `select`.
    pub kind: &'static str,
    pub required: bool,
    pub hint: Option<String>,
    pub autocomplete: &'static str,
    pub inputmode: &'static str,
}

impl Input {
    pub fn text(id: &str, name: &str, label: impl Into<String>) -> Input {
        Input {
            id: id.into(),
            name: name.into(),
            label: label.into(),
            options: Vec::new(),
            kind: "text",
            required: true,
            hint: None,
            autocomplete: "off",
            inputmode: "text",
        }
    }

    pub fn select(id: &str, name: &str, label: impl Into<String>, options: Vec<(String, String)>) -> Input {
        Input { options, kind: "select", ..Input::text(id, name, label) }
    }

    pub fn numeric(mut self) -> Input {
        self.inputmode = "numeric";
        self
    }

    pub fn optional(mut self) -> Input {
        self.required = false;
        self
    }

    pub fn kind(mut self, kind: &'static str) -> Input {
        self.kind = kind;
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Input {
        self.hint = Some(hint.into());
        self
    }
}

/// Everything around a page: language, navigation, whose account, the user.
pub struct Layout {
    pub lang: &'static str,
    pub title: String,
    pub site_name: &'static str,
    pub skip_label: &'static str,
    pub nav_label: &'static str,
    pub nav: Vec<NavItem>,
    pub banner: Option<Banner>,
    pub user: Option<UserBox>,
    pub csrf: String,
    /// The other language: its link and its name.
    pub other_language: (String, &'static str, &'static str),
    pub page: Page,
}

pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

pub struct Banner {
    pub text: String,
    /// `own`, `child` or `authorised` (colour and icon).
    pub tone: &'static str,
    pub switch_label: &'static str,
}

pub struct UserBox {
    pub label: String,
    pub logout: &'static str,
}

#[derive(Template)]
#[template(path = "page.html")]
struct PageTemplate<'a> {
    l: &'a Layout,
}

impl Layout {
    /// The page as HTML (never cached: it shows one person's data).
    pub fn render(&self, status: axum::http::StatusCode) -> Response {
        let html = match (PageTemplate { l: self }).render() {
            Ok(html) => html,
            Err(e) => {
                tracing::error!(error = %e, "a portal page could not be rendered");
                return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "the page could not be shown").into_response();
            }
        };
        (status, [(CONTENT_TYPE, "text/html; charset=utf-8"), (CACHE_CONTROL, "no-store")], html).into_response()
    }
}

/// The stylesheet (one file, served from here: no third-party requests).
pub async fn stylesheet() -> Response {
    (
        [(CONTENT_TYPE, "text/css; charset=utf-8"), (CACHE_CONTROL, "public, max-age=3600")],
        include_str!("../static/portal.css"),
    )
        .into_response()
}
