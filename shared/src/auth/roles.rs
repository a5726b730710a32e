//! Roles and the permissions they grant: seed 003's, plus `read:users` (list confirmed users
//! to invite them to a run) and `admin:users` (disable, enable, reset MFA, read the audit log).

pub const USER: &str = "user";
pub const ADMIN: &str = "admin";

const USER_PERMISSIONS: [&str; 4] = [
    "read:projects",
    "write:projects",
    "start:training",
    "read:users",
];
const ADMIN_PERMISSIONS: [&str; 1] = ["admin:users"];

/// The sorted, de-duplicated permissions of `roles` (unknown roles grant nothing).
pub fn permissions_for(roles: &[String]) -> Vec<String> {
    let mut perms: Vec<String> = Vec::new();
    for role in roles {
        let granted: &[&str] = match role.as_str() {
            USER => &USER_PERMISSIONS,
            ADMIN => &ADMIN_PERMISSIONS,
            _ => &[],
        };
        perms.extend(granted.iter().map(|p| p.to_string()));
    }
    if roles.iter().any(|r| r == ADMIN) {
        perms.extend(USER_PERMISSIONS.iter().map(|p| p.to_string()));
    }
    perms.sort();
    perms.dedup();
    perms
}

/// The roles given at confirmation: `user`, plus `admin` when the email is listed in the
/// comma-separated `admin_emails` (case-insensitive).
pub fn roles_at_confirmation(email: &str, admin_emails: &str) -> Vec<String> {
    let is_admin = admin_emails
        .split(',')
        .map(str::trim)
        .any(|a| !a.is_empty() && a.eq_ignore_ascii_case(email));
    let mut roles = vec![USER.to_string()];
    if is_admin {
        roles.push(ADMIN.to_string());
    }
    roles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_and_admin_permissions() {
        let user = permissions_for(&["user".into()]);
        assert_eq!(
            user,
            [
                "read:projects",
                "read:users",
                "start:training",
                "write:projects"
            ]
        );
        let admin = permissions_for(&["user".into(), "admin".into()]);
        assert!(
            admin.contains(&"admin:users".to_string()) && admin.contains(&"read:users".to_string())
        );
        assert!(permissions_for(&["guest".into()]).is_empty());
    }

    #[test]
    fn admins_by_email_list() {
        assert_eq!(
            roles_at_confirmation("Boss@Example.org", "a@x.org, boss@example.org"),
            ["user", "admin"]
        );
        assert_eq!(roles_at_confirmation("a@x.org", ""), ["user"]);
        assert_eq!(roles_at_confirmation("", " , "), ["user"]);
    }
}
