//! Every catalog under `server/locales/` against English: the same message ids (attributes
//! included), each with the same placeholders, and nothing that does not parse. A new
//! language is a new folder; this test reads whatever folders are there.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use fluent_syntax::ast::{self, Entry, Expression, InlineExpression, PatternElement};
use fluent_syntax::parser;

/// Message id (or `id.attribute`) → the variables its pattern uses.
type Catalog = BTreeMap<String, BTreeSet<String>>;

fn locales() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("locales")
}

fn read_catalog(dir: &Path) -> Catalog {
    let mut catalog = Catalog::new();
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .expect("language folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "ftl"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no .ftl file", dir.display());
    for file in files {
        let source = fs::read_to_string(&file).expect("read");
        let resource = parser::parse(source.as_str())
            .unwrap_or_else(|(_, errors)| panic!("{} does not parse: {errors:?}", file.display()));
        for entry in resource.body {
            if let Entry::Message(m) = entry {
                let id = m.id.name.to_owned();
                if let Some(value) = &m.value {
                    insert(&mut catalog, &file, id.clone(), variables(value));
                }
                for attribute in &m.attributes {
                    let key = format!("{id}.{}", attribute.id.name);
                    insert(&mut catalog, &file, key, variables(&attribute.value));
                }
            }
        }
    }
    catalog
}

fn insert(catalog: &mut Catalog, file: &Path, key: String, vars: BTreeSet<String>) {
    assert!(
        catalog.insert(key.clone(), vars).is_none(),
        "{} defines {key} twice",
        file.display()
    );
}

fn variables(pattern: &ast::Pattern<&str>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for element in &pattern.elements {
        if let PatternElement::Placeable { expression } = element {
            expression_variables(expression, &mut out);
        }
    }
    out
}

fn expression_variables(expression: &Expression<&str>, out: &mut BTreeSet<String>) {
    match expression {
        Expression::Inline(inline) => inline_variables(inline, out),
        Expression::Select { selector, variants } => {
            inline_variables(selector, out);
            for variant in variants {
                out.extend(variables(&variant.value));
            }
        }
    }
}

fn inline_variables(inline: &InlineExpression<&str>, out: &mut BTreeSet<String>) {
    match inline {
        InlineExpression::VariableReference { id } => {
            out.insert(id.name.to_owned());
        }
        InlineExpression::Placeable { expression } => expression_variables(expression, out),
        _ => {}
    }
}

fn languages() -> Vec<(String, Catalog)> {
    let mut found: Vec<(String, Catalog)> = fs::read_dir(locales())
        .expect("server/locales")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .map(|dir| {
            let tag = dir.file_name().unwrap().to_string_lossy().into_owned();
            let catalog = read_catalog(&dir);
            (tag, catalog)
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

#[test]
fn every_catalog_has_every_english_message_with_the_same_placeholders() {
    let all = languages();
    let english = &all
        .iter()
        .find(|(tag, _)| tag == "en")
        .expect("an English catalog")
        .1;
    assert!(english.len() > 30, "English has {} messages", english.len());
    let mut problems = Vec::new();
    for (tag, catalog) in &all {
        for (id, vars) in english {
            match catalog.get(id) {
                None => problems.push(format!("{tag}: lacks {id}")),
                Some(theirs) if theirs != vars => problems.push(format!(
                    "{tag}: {id} uses {theirs:?}, English uses {vars:?}"
                )),
                Some(_) => {}
            }
        }
        for id in catalog.keys().filter(|id| !english.contains_key(*id)) {
            problems.push(format!("{tag}: {id} is not an English message"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(all.iter().any(|(tag, _)| tag == "hi"), "Hindi is there");
}

#[test]
fn the_check_sees_a_missing_message_and_a_changed_placeholder() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(
        dir.path().join("x.ftl"),
        "walkin-title = X\narrival-body = { $who } arrived\n",
    )
    .expect("write");
    let broken = read_catalog(dir.path());
    let english = read_catalog(&locales().join("en"));
    assert!(!broken.contains_key("walkin-body"));
    assert_ne!(broken["arrival-body"], english["arrival-body"]);
    assert_eq!(english["arrival-body"], BTreeSet::from(["name".to_owned()]));
    // Variables inside a plural selection count too.
    assert_eq!(
        english["email-links-note"],
        BTreeSet::from(["minutes".to_owned()])
    );
}
