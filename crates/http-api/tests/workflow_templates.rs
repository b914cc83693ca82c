//! The built-in workflow templates: ids, names, modes and phases of ref §1.12.

use maestro_domain::entities::AgentMode;
use maestro_http_api::workflow_templates::{self, WorkflowTemplate};
use serde_json::Value;

fn phase_names(t: &WorkflowTemplate) -> Vec<&str> {
    t.phases.iter().map(|p| p.name.as_str()).collect()
}

#[test]
fn the_five_built_ins_match_the_reference() {
    let expected: [(&str, &str, AgentMode, &[&str]); 5] = [
        (
            "execute-simple",
            "Execute Simple",
            AgentMode::Execute,
            &["execute", "report", "complete"],
        ),
        (
            "execute-tree",
            "Execute Tree",
            AgentMode::Execute,
            &["analyze", "plan", "execute", "report", "complete"],
        ),
        (
            "coordinate-default",
            "Coordinate Default",
            AgentMode::Coordinate,
            &[
                "analyze",
                "decompose",
                "spawn",
                "monitor",
                "verify",
                "complete",
            ],
        ),
        (
            "coordinate-batching",
            "Coordinate Intelligent Batching",
            AgentMode::Coordinate,
            &[
                "analyze",
                "decompose",
                "execute_batch",
                "verify",
                "complete",
            ],
        ),
        (
            "coordinate-dag",
            "Coordinate DAG",
            AgentMode::Coordinate,
            &["analyze", "build_dag", "execute_wave", "verify", "complete"],
        ),
    ];
    let all = workflow_templates::all();
    assert_eq!(all.len(), expected.len());
    for (t, (id, name, mode, phases)) in all.iter().zip(expected) {
        assert_eq!(t.id, id);
        assert_eq!(t.name, name);
        assert_eq!(t.mode, mode);
        assert_eq!(phase_names(t), phases, "phases of {id}");
        assert!(t.built_in);
    }
}

#[test]
fn every_template_has_text_that_points_to_the_cli() {
    for t in workflow_templates::all() {
        assert!(!t.description.trim().is_empty(), "{} description", t.id);
        for p in &t.phases {
            assert!(
                p.instruction.contains("maestro "),
                "{}/{} names no maestro command",
                t.id,
                p.name
            );
        }
        let complete = t.phases.last().expect("phases");
        assert_eq!(complete.name, "complete");
        assert!(
            complete
                .instruction
                .contains("maestro task report complete")
        );
        assert!(
            complete
                .instruction
                .contains("maestro session report complete")
        );
    }
    for id in [
        "coordinate-default",
        "coordinate-batching",
        "coordinate-dag",
    ] {
        let t = workflow_templates::get(id).expect("template");
        let all_text: String = t.phases.iter().map(|p| p.instruction.as_str()).collect();
        assert!(all_text.contains("maestro session spawn --task"), "{id}");
        assert!(all_text.contains("maestro session watch"), "{id}");
        assert!(all_text.contains("maestro task create"), "{id}");
    }
}

#[test]
fn json_shape_is_camel_case_with_built_in_true() {
    let t = workflow_templates::get("execute-simple").expect("template");
    let json = serde_json::to_value(t).expect("serialize");
    let keys: Vec<&str> = json
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        ["builtIn", "description", "id", "mode", "name", "phases"]
    );
    assert_eq!(json["builtIn"], Value::Bool(true));
    assert_eq!(json["mode"], "execute");
    assert_eq!(json["phases"][0]["name"], "execute");
    assert!(json["phases"][0]["instruction"].is_string());
    let back: WorkflowTemplate = serde_json::from_value(json).expect("deserialize");
    assert_eq!(&back, t);
}

#[test]
fn get_finds_by_exact_id_only() {
    assert_eq!(
        workflow_templates::get("coordinate-dag").map(|t| t.name.as_str()),
        Some("Coordinate DAG")
    );
    assert!(workflow_templates::get("Coordinate-DAG").is_none());
    assert!(workflow_templates::get("missing").is_none());
    assert!(workflow_templates::get("").is_none());
}

#[test]
fn by_mode_filters_only_on_known_modes() {
    let ids = |mode: Option<&str>| -> Vec<&str> {
        workflow_templates::by_mode(mode)
            .into_iter()
            .map(|t| t.id.as_str())
            .collect()
    };
    assert_eq!(ids(Some("execute")), ["execute-simple", "execute-tree"]);
    assert_eq!(
        ids(Some("coordinate")),
        [
            "coordinate-default",
            "coordinate-batching",
            "coordinate-dag"
        ]
    );
    let everything: Vec<&str> = workflow_templates::all()
        .iter()
        .map(|t| t.id.as_str())
        .collect();
    assert_eq!(ids(None), everything);
    assert_eq!(ids(Some("")), everything);
    assert_eq!(ids(Some("EXECUTE")), everything);
    assert_eq!(ids(Some("bogus")), everything);
}
