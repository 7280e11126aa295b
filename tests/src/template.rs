//! `template.yaml` as the local stack deploys it: each function's role policies, settings
//! and timeout, and the state machine's substitutions, all taken from the template itself
//! through the SAM translator (`infra/local/render_template.py`), never from a copy.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_json::Value;

use crate::iam::Policies;
use crate::support::repo_root;

/// One inline policy of a role.
#[derive(Debug, Clone, Deserialize)]
pub struct InlinePolicy {
    pub name: String,
    pub document: Value,
}

/// A function as deployed.
#[derive(Debug, Clone, Deserialize)]
pub struct RenderedFunction {
    /// Its name (the binary's: `leganto-plan`).
    pub name: String,
    pub timeout: u64,
    pub memory: u64,
    pub environment: BTreeMap<String, String>,
    pub role: String,
    pub policies: Vec<InlinePolicy>,
    #[serde(default)]
    pub managed_policies: Vec<String>,
}

impl RenderedFunction {
    pub fn policies(&self) -> Policies {
        Policies {
            documents: self.policies.iter().map(|p| p.document.clone()).collect(),
        }
    }
}

/// The state machine as deployed.
#[derive(Debug, Clone, Deserialize)]
pub struct RenderedStateMachine {
    pub name: String,
    /// Relative to the template.
    pub definition_uri: String,
    pub substitutions: BTreeMap<String, String>,
    pub role: String,
    pub policies: Vec<InlinePolicy>,
}

impl RenderedStateMachine {
    pub fn policies(&self) -> Policies {
        Policies {
            documents: self.policies.iter().map(|p| p.document.clone()).collect(),
        }
    }
}

/// A bucket's settings the local stack applies to the bucket it made.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RenderedBucket {
    /// `VersioningConfiguration.Status` (`Enabled`), if set.
    #[serde(default)]
    pub versioning: Option<String>,
}

/// The template, rendered.
#[derive(Debug, Clone, Deserialize)]
pub struct Rendered {
    /// By logical id (`PlanFunction`, ...).
    pub functions: BTreeMap<String, RenderedFunction>,
    pub state_machine: RenderedStateMachine,
    pub parameters: BTreeMap<String, String>,
    /// By logical id (`Bucket`).
    #[serde(default)]
    pub buckets: BTreeMap<String, RenderedBucket>,
    /// `AWS::IAM::ManagedPolicy` documents by logical id (`OperatorPolicy`).
    #[serde(default)]
    pub managed_policies: BTreeMap<String, Value>,
    /// `AWS::Scheduler::Schedule` properties by logical id (`StateMachineDaily`).
    #[serde(default)]
    pub schedules: BTreeMap<String, Value>,
    /// `AWS::StackName` as rendered.
    #[serde(default)]
    pub stack_name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("could not run {script}")]
    Spawn {
        script: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{script} failed: {stderr}")]
    Failed { script: PathBuf, stderr: String },
    #[error("{script} printed something that is not the rendered template")]
    Output {
        script: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("the definition {path} cannot be read")]
    Definition {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the definition {path} has a substitution the template does not fill: {name}")]
    Substitution { path: PathBuf, name: String },
}

/// `template.yaml` at the repository root.
pub fn template_path() -> PathBuf {
    repo_root().join("template.yaml")
}

/// Renders `template` with `parameters` (the rest keep their defaults) and the physical
/// ids the stack made (`Ref` of a resource: the bucket's name, a secret's ARN).
pub fn render(
    template: &Path,
    parameters: &BTreeMap<String, String>,
    physical: &BTreeMap<String, String>,
) -> Result<Rendered, TemplateError> {
    let root = repo_root();
    let script = root.join("infra/local/render_template.py");
    let python = root.join(".venv/bin/python");
    let json = |map: &BTreeMap<String, String>| serde_json::to_string(map).unwrap_or_default();
    let out = Command::new(&python)
        .arg(&script)
        .arg(template)
        .arg("--params")
        .arg(json(parameters))
        .arg("--physical")
        .arg(json(physical))
        .env("AWS_DEFAULT_REGION", crate::moto::REGION)
        .output()
        .map_err(|source| TemplateError::Spawn {
            script: script.clone(),
            source,
        })?;
    if !out.status.success() {
        return Err(TemplateError::Failed {
            script,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    serde_json::from_slice(&out.stdout).map_err(|source| TemplateError::Output { script, source })
}

impl Rendered {
    /// The state machine definition with the template's substitutions applied; a `${...}`
    /// the template does not fill is an error naming it.
    pub fn definition(&self, template: &Path) -> Result<String, TemplateError> {
        let dir = template.parent().unwrap_or(Path::new("."));
        let path = dir.join(&self.state_machine.definition_uri);
        let mut text =
            std::fs::read_to_string(&path).map_err(|source| TemplateError::Definition {
                path: path.clone(),
                source,
            })?;
        for (name, value) in &self.state_machine.substitutions {
            text = text.replace(&format!("${{{name}}}"), value);
        }
        if let Some(start) = text.find("${") {
            let rest = &text[start..];
            let end = rest.find('}').map_or(rest.len().min(40), |i| i + 1);
            return Err(TemplateError::Substitution {
                path,
                name: rest[..end].to_string(),
            });
        }
        Ok(text)
    }

    /// The function whose name (or logical id) is `name`.
    pub fn function(&self, name: &str) -> Option<&RenderedFunction> {
        self.functions
            .get(name)
            .or_else(|| self.functions.values().find(|f| f.name == name))
    }
}
