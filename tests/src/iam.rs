//! IAM as AWS applies it to the functions' calls, for the local stack: which action and
//! resource an AWS API request is, and whether a role's policies allow it.
//!
//! moto checks the signature and the action of every call (its resource checks cover S3
//! only), so the Lambda host, which relays every call a function makes, judges the action
//! *and* the resource here, against the same policy documents the template gives the
//! function's role. A call this module cannot classify is refused: a new kind of call must
//! be modelled before it passes.

use serde_json::Value;

/// The one call IAM never refuses.
const GET_CALLER_IDENTITY: &str = "sts:GetCallerIdentity";

/// What a request asks to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// `s3:GetObject`, `secretsmanager:GetSecretValue`, ...
    pub action: String,
    /// The resource ARN (`arn:aws:s3:::bucket/key`, a secret's ARN, ...).
    pub resource: String,
    /// Condition keys the request sets (`s3:prefix` for a listing).
    pub context: Vec<(String, String)>,
}

impl Access {
    fn new(action: impl Into<String>, resource: impl Into<String>) -> Access {
        Access {
            action: action.into(),
            resource: resource.into(),
            context: Vec::new(),
        }
    }
}

/// The parts of an HTTP request that say what it is.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    /// Percent-encoded path.
    pub path: &'a str,
    pub query: &'a str,
    /// `X-Amz-Target` (JSON protocol services).
    pub target: Option<&'a str>,
    /// The SigV4 credential scope's service (`s3`, `secretsmanager`, `ses`, `states`).
    pub service: &'a str,
    pub body: &'a [u8],
}

/// Where the resources live: the region and account of the local stack.
#[derive(Debug, Clone)]
pub struct Scope {
    pub region: String,
    pub account: String,
    /// Secret names the stack created, by ARN, so a `SecretId` given by name resolves.
    pub secrets: Vec<String>,
}

/// The action and resource of `request`, or why it cannot be told.
pub fn classify(request: &Request<'_>, scope: &Scope) -> Result<Access, String> {
    match request.service {
        "s3" => classify_s3(request),
        "secretsmanager" => classify_secrets(request, scope),
        "ses" => classify_ses(request, scope),
        "states" => classify_states(request),
        "cloudformation" => classify_cloudformation(request, scope),
        "scheduler" => classify_scheduler(request, scope),
        "sts" => Ok(Access::new(GET_CALLER_IDENTITY, "*")),
        other => Err(format!("no IAM model for calls to {other}")),
    }
}

fn query_pairs(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

fn decode(path: &str) -> String {
    percent_encoding::percent_decode_str(path)
        .decode_utf8_lossy()
        .into_owned()
}

/// Path-style S3 (`/bucket/key`), as the product's store and the SDK's local endpoint use.
fn classify_s3(request: &Request<'_>) -> Result<Access, String> {
    let path = decode(request.path.trim_start_matches('/'));
    let (bucket, key) = match path.split_once('/') {
        Some((bucket, key)) => (bucket.to_string(), key.to_string()),
        None => (path.clone(), String::new()),
    };
    if bucket.is_empty() {
        return Ok(Access::new("s3:ListAllMyBuckets", "*"));
    }
    let query = query_pairs(request.query);
    let has = |name: &str| query.iter().any(|(k, _)| k == name);
    if key.is_empty() {
        let bucket_arn = format!("arn:aws:s3:::{bucket}");
        return match request.method {
            "GET" if has("location") => Ok(Access::new("s3:GetBucketLocation", bucket_arn)),
            "GET" | "HEAD" => {
                let prefix = query
                    .iter()
                    .find(|(k, _)| k == "prefix")
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                let mut access = Access::new("s3:ListBucket", bucket_arn);
                access.context.push(("s3:prefix".into(), prefix));
                Ok(access)
            }
            "POST" if has("delete") => {
                Ok(Access::new("s3:DeleteObject", format!("{bucket_arn}/*")))
            }
            method => Err(format!("no IAM model for S3 {method} on bucket {bucket}")),
        };
    }
    let object = format!("arn:aws:s3:::{bucket}/{key}");
    match request.method {
        "GET" | "HEAD" => Ok(Access::new("s3:GetObject", object)),
        "PUT" | "POST" => Ok(Access::new("s3:PutObject", object)),
        "DELETE" => Ok(Access::new("s3:DeleteObject", object)),
        method => Err(format!("no IAM model for S3 {method} on {object}")),
    }
}

/// `secretsmanager.GetSecretValue` and friends: the resource is the secret's ARN.
fn classify_secrets(request: &Request<'_>, scope: &Scope) -> Result<Access, String> {
    let operation = request
        .target
        .and_then(|t| t.strip_prefix("secretsmanager."))
        .ok_or("a Secrets Manager call without its X-Amz-Target")?;
    let body: Value = serde_json::from_slice(request.body).unwrap_or(Value::Null);
    let id = body["SecretId"].as_str().unwrap_or("*");
    let arn = if id.starts_with("arn:") {
        id.to_string()
    } else {
        // A name: the ARN of the secret so named (ARNs end in `-` and six characters).
        scope
            .secrets
            .iter()
            .find(|arn| secret_name(arn) == id)
            .cloned()
            .unwrap_or_else(|| {
                format!(
                    "arn:aws:secretsmanager:{}:{}:secret:{id}",
                    scope.region, scope.account
                )
            })
    };
    Ok(Access::new(format!("secretsmanager:{operation}"), arn))
}

/// The name part of a secret's ARN (`arn:…:secret:NAME-AbCdEf`).
fn secret_name(arn: &str) -> &str {
    let name = arn.split(":secret:").nth(1).unwrap_or(arn);
    match name.rsplit_once('-') {
        Some((base, suffix)) if suffix.len() == 6 => base,
        _ => name,
    }
}

/// SES v2 `SendEmail`: the resource is the sender's identity (its address, or its domain).
fn classify_ses(request: &Request<'_>, scope: &Scope) -> Result<Access, String> {
    if request.method != "POST" || !request.path.starts_with("/v2/email/outbound-emails") {
        return Err(format!(
            "no IAM model for SES {} {}",
            request.method, request.path
        ));
    }
    let body: Value = serde_json::from_slice(request.body).unwrap_or(Value::Null);
    let from = body["FromEmailAddress"]
        .as_str()
        .map(str::to_string)
        .or_else(|| raw_from(&body))
        .unwrap_or_else(|| "*".into());
    let mut access = Access::new(
        "ses:SendEmail",
        format!(
            "arn:aws:ses:{}:{}:identity/{from}",
            scope.region, scope.account
        ),
    );
    access.context.push(("ses:FromAddress".into(), from));
    Ok(access)
}

/// The address in a raw message's `From:` header.
fn raw_from(body: &Value) -> Option<String> {
    use base64::Engine as _;
    let data = body["Content"]["Raw"]["Data"].as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let line = text
        .lines()
        .take_while(|l| !l.is_empty())
        .find(|l| l.to_ascii_lowercase().starts_with("from:"))?;
    let value = line.split_once(':')?.1.trim();
    let address = match (value.rfind('<'), value.rfind('>')) {
        (Some(open), Some(close)) if open < close => &value[open + 1..close],
        _ => value,
    };
    Some(address.trim().to_string())
}

/// CloudFormation (query protocol: `Action=DescribeStacks&StackName=...` in a form body):
/// the resource is the stack named. A request names the stack, not its id, so the ARN
/// ends in `*` where AWS's has the stack's id: a policy's `stack/NAME/*` matches it.
fn classify_cloudformation(request: &Request<'_>, scope: &Scope) -> Result<Access, String> {
    let form = String::from_utf8_lossy(request.body);
    let fields = query_pairs(&form);
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let action = field("Action").ok_or("a CloudFormation call without its Action")?;
    let resource = match field("StackName") {
        Some(arn) if arn.starts_with("arn:") => arn,
        Some(name) => format!(
            "arn:aws:cloudformation:{}:{}:stack/{name}/*",
            scope.region, scope.account
        ),
        // DescribeStacks without a name lists every stack: IAM judges it on `*`.
        None => "*".to_string(),
    };
    Ok(Access::new(format!("cloudformation:{action}"), resource))
}

/// EventBridge Scheduler (REST: `GET|PUT /schedules/NAME`, the group in `groupName` or the
/// body's `GroupName`, else `default`): the resource is the schedule named.
fn classify_scheduler(request: &Request<'_>, scope: &Scope) -> Result<Access, String> {
    let name = request
        .path
        .strip_prefix("/schedules/")
        .filter(|name| !name.is_empty() && !name.contains('/'))
        .map(decode)
        .ok_or_else(|| format!("a Scheduler call to {} {}", request.method, request.path))?;
    let action = match request.method {
        "GET" => "GetSchedule",
        "PUT" => "UpdateSchedule",
        "POST" => "CreateSchedule",
        "DELETE" => "DeleteSchedule",
        other => return Err(format!("a Scheduler {other} call")),
    };
    let body: Value = serde_json::from_slice(request.body).unwrap_or(Value::Null);
    let group = query_pairs(request.query)
        .into_iter()
        .find(|(k, _)| k == "groupName")
        .map(|(_, v)| v)
        .or_else(|| body["GroupName"].as_str().map(str::to_string))
        .unwrap_or_else(|| "default".into());
    Ok(Access::new(
        format!("scheduler:{action}"),
        format!(
            "arn:aws:scheduler:{}:{}:schedule/{group}/{name}",
            scope.region, scope.account
        ),
    ))
}

/// The role a call hands to a service, which IAM judges as `iam:PassRole` on that role
/// besides the call itself: a schedule's target role, on creating or changing a schedule.
pub fn passed_role(request: &Request<'_>) -> Option<Access> {
    if request.service != "scheduler" || !matches!(request.method, "PUT" | "POST") {
        return None;
    }
    let body: Value = serde_json::from_slice(request.body).ok()?;
    let role = body["Target"]["RoleArn"].as_str()?;
    let mut access = Access::new("iam:PassRole", role);
    access.context.push((
        "iam:PassedToService".into(),
        "scheduler.amazonaws.com".into(),
    ));
    Some(access)
}

/// Step Functions (JSON protocol): the resource is the state machine or execution named.
fn classify_states(request: &Request<'_>) -> Result<Access, String> {
    let operation = request
        .target
        .and_then(|t| t.strip_prefix("AWSStepFunctions."))
        .ok_or("a Step Functions call without its X-Amz-Target")?;
    let body: Value = serde_json::from_slice(request.body).unwrap_or(Value::Null);
    let resource = ["executionArn", "stateMachineArn"]
        .iter()
        .find_map(|field| body[*field].as_str())
        .unwrap_or("*");
    Ok(Access::new(format!("states:{operation}"), resource))
}

/// A role's policy documents.
#[derive(Debug, Clone, Default)]
pub struct Policies {
    pub documents: Vec<Value>,
}

/// IAM's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// No statement allows it (IAM's implicit deny).
    NotAllowed,
    /// A statement denies it.
    Denied,
}

impl Policies {
    /// IAM's evaluation for one principal: an explicit Deny wins, then any Allow.
    pub fn decide(&self, access: &Access) -> Decision {
        // AWS answers "who am I" to anyone signed, whatever their policies say.
        if access.action == GET_CALLER_IDENTITY {
            return Decision::Allowed;
        }
        let mut allowed = false;
        for statement in self.documents.iter().flat_map(statements) {
            if !statement_applies(statement, access) {
                continue;
            }
            match statement["Effect"].as_str() {
                Some("Deny") => return Decision::Denied,
                Some("Allow") => allowed = true,
                _ => {}
            }
        }
        if allowed {
            Decision::Allowed
        } else {
            Decision::NotAllowed
        }
    }

    /// The same documents with every resource and condition widened to `*`: what moto
    /// judges (actions only), leaving resources to [`Policies::decide`].
    pub fn actions_only(&self) -> Vec<Value> {
        self.documents
            .iter()
            .map(|document| {
                let statements: Vec<Value> = statements(document)
                    .map(|s| {
                        serde_json::json!({
                            "Effect": s["Effect"],
                            "Action": s.get("Action").cloned().unwrap_or(Value::Null),
                            "Resource": "*",
                        })
                    })
                    .filter(|s| !s["Action"].is_null())
                    .collect();
                serde_json::json!({"Version": "2012-10-17", "Statement": statements})
            })
            .collect()
    }
}

fn statements(document: &Value) -> impl Iterator<Item = &Value> {
    let list: Vec<&Value> = match &document["Statement"] {
        Value::Array(items) => items.iter().collect(),
        one @ Value::Object(_) => vec![one],
        _ => Vec::new(),
    };
    list.into_iter()
}

fn strings(value: &Value) -> Vec<&str> {
    match value {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn statement_applies(statement: &Value, access: &Access) -> bool {
    let action_matches = |patterns: &Value| {
        strings(patterns)
            .iter()
            .any(|p| wildcard_match(&p.to_ascii_lowercase(), &access.action.to_ascii_lowercase()))
    };
    let resource_matches = |patterns: &Value| {
        strings(patterns)
            .iter()
            .any(|p| wildcard_match(p, &access.resource))
    };
    let action = match (statement.get("Action"), statement.get("NotAction")) {
        (Some(a), _) => action_matches(a),
        (None, Some(n)) => !action_matches(n),
        (None, None) => false,
    };
    let resource = match (statement.get("Resource"), statement.get("NotResource")) {
        (Some(r), _) => resource_matches(r),
        (None, Some(n)) => !resource_matches(n),
        (None, None) => false,
    };
    action && resource && conditions_hold(&statement["Condition"], access)
}

/// The condition operators the template uses; an unknown operator never holds, so a
/// policy that needs one fails loudly here rather than passing.
fn conditions_hold(conditions: &Value, access: &Access) -> bool {
    let Some(operators) = conditions.as_object() else {
        return true;
    };
    operators.iter().all(|(operator, keys)| {
        let Some(keys) = keys.as_object() else {
            return false;
        };
        keys.iter().all(|(key, expected)| {
            let actual: Vec<&str> = access
                .context
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.as_str())
                .collect();
            let expected = strings(expected);
            match operator.as_str() {
                "StringEquals" => actual.iter().any(|a| expected.contains(a)),
                "StringLike" => actual
                    .iter()
                    .any(|a| expected.iter().any(|e| wildcard_match(e, a))),
                _ => false,
            }
        })
    })
}

/// IAM's `*` (any run) and `?` (any one character) matching.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        // `*` first: it stays a wildcard even where the text holds a literal `*`.
        if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The access key id of a SigV4 `Authorization` header, and its credential scope's service.
pub fn signer(authorization: &str) -> Option<(&str, &str)> {
    let credential = authorization.split("Credential=").nth(1)?;
    let credential = credential.split(',').next()?;
    let mut parts = credential.split('/');
    let key = parts.next()?;
    let service = parts.nth(2)?;
    Some((key, service))
}

/// The service's own error for a refused call: S3 answers XML 403, JSON services 400.
pub fn access_denied(service: &str, principal: &str, access: &Access) -> (u16, String, String) {
    let message = format!(
        "User: {principal} is not authorized to perform: {} on resource: {} because no \
         identity-based policy allows the {} action",
        access.action, access.resource, access.action
    );
    let escaped = message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    if service == "s3" {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>\
             <Message>{escaped}</Message><RequestId>local</RequestId></Error>"
        );
        return (403, "application/xml".into(), body);
    }
    // Query-protocol services (CloudFormation) answer in their XML error envelope.
    if service == "cloudformation" {
        let body = format!(
            "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>\
             <Message>{escaped}</Message></Error><RequestId>local</RequestId></ErrorResponse>"
        );
        return (403, "text/xml".into(), body);
    }
    let body = serde_json::json!({"__type": "AccessDeniedException", "Message": message});
    (400, "application/x-amz-json-1.1".into(), body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope {
            region: "us-east-1".into(),
            account: "123456789012".into(),
            secrets: vec![
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:leganto/alma-AbCdEf".into(),
            ],
        }
    }

    fn request<'a>(method: &'a str, path: &'a str, query: &'a str) -> Request<'a> {
        Request {
            method,
            path,
            query,
            target: None,
            service: "s3",
            body: b"",
        }
    }

    #[test]
    fn wildcards_match_as_iam_does() {
        assert!(wildcard_match(
            "arn:aws:s3:::b/*",
            "arn:aws:s3:::b/cem/2026/x.csv"
        ));
        assert!(wildcard_match("s3:Get*", "s3:GetObject"));
        assert!(wildcard_match("a?c", "abc"));
        assert!(!wildcard_match(
            "arn:aws:s3:::b/cem/*",
            "arn:aws:s3:::b/alma/x"
        ));
        assert!(!wildcard_match("s3:GetObject", "s3:GetObjectAcl"));
        assert!(wildcard_match("reports/*", "reports/*/run-summary.json"));
    }

    #[test]
    fn s3_requests_name_their_object_or_bucket() {
        let get = classify(&request("GET", "/b/cem/2026/11/28/x%20y.csv", ""), &scope()).unwrap();
        assert_eq!(
            get,
            Access::new("s3:GetObject", "arn:aws:s3:::b/cem/2026/11/28/x y.csv")
        );
        let head = classify(&request("HEAD", "/b/k", ""), &scope()).unwrap();
        assert_eq!(head.action, "s3:GetObject");
        let list = classify(
            &request("GET", "/b", "list-type=2&prefix=alma%2F2026"),
            &scope(),
        )
        .unwrap();
        assert_eq!(list.action, "s3:ListBucket");
        assert_eq!(list.resource, "arn:aws:s3:::b");
        assert_eq!(
            list.context,
            vec![("s3:prefix".to_string(), "alma/2026".to_string())]
        );
    }

    #[test]
    fn a_secret_named_by_name_is_judged_by_its_arn() {
        let body = br#"{"SecretId": "leganto/alma"}"#;
        let access = classify(
            &Request {
                method: "POST",
                path: "/",
                query: "",
                target: Some("secretsmanager.GetSecretValue"),
                service: "secretsmanager",
                body,
            },
            &scope(),
        )
        .unwrap();
        assert_eq!(access.resource, scope().secrets[0]);
    }

    #[test]
    fn deny_wins_allow_needs_action_resource_and_conditions() {
        let policies = Policies {
            documents: vec![serde_json::json!({"Statement": [
                {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::b/cem/*"},
                {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b",
                 "Condition": {"StringLike": {"s3:prefix": ["alma/*"]}}},
                {"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::b/cem/secret*"}
            ]})],
        };
        let get = |key: &str| Access::new("s3:GetObject", format!("arn:aws:s3:::b/{key}"));
        assert_eq!(policies.decide(&get("cem/x.csv")), Decision::Allowed);
        assert_eq!(policies.decide(&get("alma/x.txt")), Decision::NotAllowed);
        assert_eq!(policies.decide(&get("cem/secret.txt")), Decision::Denied);
        let mut list = Access::new("s3:ListBucket", "arn:aws:s3:::b");
        list.context.push(("s3:prefix".into(), "alma/2026/".into()));
        assert_eq!(policies.decide(&list), Decision::Allowed);
        list.context[0].1 = "cem/".into();
        assert_eq!(policies.decide(&list), Decision::NotAllowed);
    }

    #[test]
    fn a_cloudformation_call_is_judged_on_the_stack_it_names() {
        let access = classify(
            &Request {
                method: "POST",
                path: "/",
                query: "",
                target: None,
                service: "cloudformation",
                body: b"Action=DescribeStacks&StackName=leganto-prod&Version=2010-05-15",
            },
            &scope(),
        )
        .unwrap();
        assert_eq!(access.action, "cloudformation:DescribeStacks");
        let policies = Policies {
            documents: vec![serde_json::json!({"Statement": [{"Effect": "Allow",
                "Action": "cloudformation:DescribeStacks",
                "Resource": "arn:aws:cloudformation:us-east-1:123456789012:stack/leganto-prod/*"}]})],
        };
        assert_eq!(policies.decide(&access), Decision::Allowed);
        let mut other = access.clone();
        other.resource = other.resource.replace("leganto-prod", "leganto-dev");
        assert_eq!(policies.decide(&other), Decision::NotAllowed);
    }

    #[test]
    fn the_signer_is_read_from_the_authorization_header() {
        let header = "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20261128/us-east-1/s3/aws4_request, \
                      SignedHeaders=host, Signature=abc";
        assert_eq!(signer(header), Some(("ASIAEXAMPLE", "s3")));
    }
}
