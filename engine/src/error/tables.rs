//! Messages of the control plane: CreateTable, UpdateTable, DeleteTable, tags, Contributor
//! Insights and table ARNs.

use super::{Error, ErrorKind, constraint};
use crate::limits;

// CreateTable and UpdateTable: the table itself.
impl Error {
    /// (obs?) CreateTable over the account's table quota.
    pub(crate) fn table_count_exceeded() -> Error {
        Error::new(
            ErrorKind::LimitExceeded,
            format!(
                "Subscriber limit exceeded: You have exceeded the maximum number of tables ({}) for this account and region",
                limits::TABLE_COUNT_MAX
            ),
        )
    }

    /// (ours) UpdateTable with ReplicaUpdates or SSESpecification; recorded in
    /// `docs/compatibility.md`.
    pub(crate) fn update_table_member_not_implemented() -> Error {
        Error::validation(
            "dynasim does not implement ReplicaUpdates or SSESpecification in UpdateTable yet; see docs/compatibility.md",
        )
    }

    /// (emu, dynamodb-facts §12.3; dynalite validations/updateTable.js) UpdateTable that asks for
    /// no change at all.
    pub(crate) fn update_table_without_change() -> Error {
        Error::validation(
            "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required",
        )
    }

    /// (emu, dynamodb-facts §12.4) UpdateTable or DeleteTable of a table that is not ACTIVE;
    /// `doing` is "created", "updated" or "deleted".
    pub(crate) fn table_in_use(doing: &str, table_name: &str) -> Error {
        Error::new(
            ErrorKind::ResourceInUse,
            format!(
                "Attempt to change a resource which is still in use: Table is being {doing}: {table_name}"
            ),
        )
    }

    /// (emu, dynamodb-facts §12.4: two emulator issue reports; the exception type is ours,
    /// `docs/compatibility.md`) DeleteTable of a table with deletion protection.
    pub(crate) fn table_deletion_protected() -> Error {
        Error::new(
            ErrorKind::ResourceInUse,
            "Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first.",
        )
    }

    /// (emu, dynamodb-facts §12.1) Two AttributeDefinitions of one name.
    pub(crate) fn attribute_definition_duplicate(attribute: &str) -> Error {
        Error::invalid_parameter(format!("Duplicate value in attribute name: {attribute}"))
    }

    /// (emu, dynamodb-facts §12.1; dynalite validations/createTable.js) A table or index key schema
    /// whose first element is not HASH.
    pub(crate) fn key_schema_first_not_hash() -> Error {
        Error::validation("Invalid KeySchema: The first KeySchemaElement is not a HASH key type")
    }

    /// (emu, dynamodb-facts §12.1; dynalite validations/createTable.js) A table or index key schema
    /// whose second element is not RANGE.
    pub(crate) fn key_schema_second_not_range() -> Error {
        Error::validation("Invalid KeySchema: The second KeySchemaElement is not a RANGE key type")
    }

    /// (emu, dynamodb-facts §12.1; dynalite validations/createTable.js) A table or index key schema
    /// with one attribute as both keys.
    pub(crate) fn key_schema_same_name() -> Error {
        Error::validation(
            "Both the Hash Key and the Range Key element in the KeySchema have the same name",
        )
    }

    /// (emu, dynamodb-facts §12.1; dynalite validations/createTable.js) Key attributes of the table
    /// or an index missing from AttributeDefinitions; both lists joined by ", ".
    pub(crate) fn key_attributes_undefined(keys: &str, definitions: &str) -> Error {
        Error::invalid_parameter(format!(
            "Some index key attributes are not defined in AttributeDefinitions. Keys: [{keys}], AttributeDefinitions: [{definitions}]"
        ))
    }

    /// (emu, dynamodb-facts §12.1; dynalite validations/createTable.js) AttributeDefinitions that
    /// define attributes no key schema uses.
    pub(crate) fn attribute_definitions_unused() -> Error {
        Error::invalid_parameter(
            "Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
        )
    }

    /// (obs?) A key attribute name over 255 bytes.
    pub(crate) fn key_attribute_name_too_long(name: &str) -> Error {
        Error::invalid_parameter(format!(
            "Hash or range key name length exceeds the limit of {} bytes: {name}",
            limits::KEY_ATTRIBUTE_NAME_SIZE_BYTES_MAX
        ))
    }

    /// (emu, dynamodb-facts §6.3; dynalite validations/updateTable.js) PROVISIONED billing without
    /// ProvisionedThroughput.
    pub(crate) fn throughput_required() -> Error {
        Error::invalid_parameter(
            "ProvisionedThroughput must be specified when BillingMode is PROVISIONED",
        )
    }

    /// (emu, dynamodb-facts §6.3; dynalite validations/createTable.js) PAY_PER_REQUEST billing with
    /// ProvisionedThroughput.
    pub(crate) fn throughput_with_pay_per_request() -> Error {
        Error::invalid_parameter(
            "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
        )
    }

    /// (obs?) Table capacity units over the per-table quota.
    pub(crate) fn table_throughput_exceeded(table_name: &str) -> Error {
        Error::new(
            ErrorKind::LimitExceeded,
            format!(
                "Subscriber limit exceeded: Provisioned throughput for table {table_name} exceeds the per-table limit of {} read and {} write capacity units",
                limits::TABLE_MAX_READ_CAPACITY_UNITS,
                limits::TABLE_MAX_WRITE_CAPACITY_UNITS
            ),
        )
    }

    /// (emu, dynamodb-facts §12.3; dynalite actions/updateTable.js) UpdateTable to the capacity the
    /// table already has.
    pub(crate) fn throughput_unchanged(
        (current_read, read): (u64, u64),
        (current_write, write): (u64, u64),
    ) -> Error {
        Error::validation(format!(
            "The provisioned throughput for the table will not change. The requested value equals the current value. Current ReadCapacityUnits provisioned for the table: {current_read}. Requested ReadCapacityUnits: {read}. Current WriteCapacityUnits provisioned for the table: {current_write}. Requested WriteCapacityUnits: {write}. Refer to the Amazon DynamoDB Developer Guide for current limits and how to request higher limits.",
        ))
    }
}

// Secondary indexes, in CreateTable and GlobalSecondaryIndexUpdates.
impl Error {
    /// (obs?) An index key schema that is not one HASH, or HASH and RANGE.
    pub(crate) fn index_key_schema_invalid(index_name: &str) -> Error {
        Error::invalid_parameter(format!("Invalid KeySchema for index: {index_name}"))
    }

    /// (ours, `docs/compatibility.md`: no source records the service's words) A GSI key schema
    /// with a HASH element after a RANGE element.
    pub(crate) fn index_key_schema_hash_after_range(index_name: &str) -> Error {
        Error::validation(format!(
            "Invalid KeySchema: The HASH KeySchemaElements must come before the RANGE KeySchemaElements for index: {index_name}"
        ))
    }

    /// (ours, `docs/compatibility.md`; the limit is [API:CreateTableInput]'s "up to 4
    /// partition keys and up to 4 sort keys") A GSI key schema with more than four HASH or
    /// more than four RANGE elements.
    pub(crate) fn index_key_schema_too_many(key_type: &str, index_name: &str) -> Error {
        Error::validation(format!(
            "Invalid KeySchema: More than {} {key_type} KeySchemaElements for index: {index_name}",
            limits::INDEX_KEY_ATTRIBUTE_COUNT_MAX
        ))
    }

    /// (ours, `docs/compatibility.md`) A multi-attribute GSI key schema naming an attribute
    /// twice (two elements, one HASH and one RANGE, keep `key_schema_same_name`).
    pub(crate) fn index_key_schema_duplicate(attribute: &str, index_name: &str) -> Error {
        Error::validation(format!(
            "Invalid KeySchema: Duplicate KeySchemaElement attribute name: {attribute} for index: {index_name}"
        ))
    }

    /// (obs?) A NonKeyAttributes name over 255 bytes.
    pub(crate) fn non_key_attribute_name_too_long(name: &str) -> Error {
        Error::invalid_parameter(format!("NonKeyAttributes name exceeds 255 bytes: {name}"))
    }

    /// (ours, `docs/compatibility.md`: no source records the service's words) One index's
    /// NonKeyAttributes naming an attribute twice.
    pub(crate) fn non_key_attribute_duplicate(name: &str) -> Error {
        Error::invalid_parameter(format!("Duplicate value in NonKeyAttributes: {name}"))
    }

    /// (obs?) INCLUDE without NonKeyAttributes.
    pub(crate) fn projection_include_without_attributes() -> Error {
        Error::invalid_parameter("ProjectionType is INCLUDE, but NonKeyAttributes is not specified")
    }

    /// (obs/emu, dynamodb-facts §7.1; dynalite validations/createTable.js) ALL or KEYS_ONLY with
    /// NonKeyAttributes.
    pub(crate) fn projection_with_attributes(projection_type: &str) -> Error {
        Error::invalid_parameter(format!(
            "ProjectionType is {projection_type}, but NonKeyAttributes is specified"
        ))
    }

    /// (obs, dynamodb-facts §7.1) A ProjectionType outside the three; `null` when absent.
    pub(crate) fn projection_type_unknown(projection_type: &str) -> Error {
        Error::invalid_parameter(format!("Unknown ProjectionType: {projection_type}"))
    }

    /// (emu, dynalite validations/createTable.js, MOTO) `GlobalSecondaryIndexes: []`.
    pub(crate) fn global_indexes_empty() -> Error {
        Error::invalid_parameter("List of GlobalSecondaryIndexes is empty")
    }

    /// (emu, dynalite validations/createTable.js, MOTO) `LocalSecondaryIndexes: []`.
    pub(crate) fn local_indexes_empty() -> Error {
        Error::invalid_parameter("List of LocalSecondaryIndexes is empty")
    }

    /// (emu, dynamodb-facts §7.2) More GSIs than the per-table quota, at creation or by
    /// UpdateTable.
    pub(crate) fn global_index_count_exceeded() -> Error {
        Error::invalid_parameter(format!(
            "GlobalSecondaryIndex count exceeds the per-table limit of {}",
            limits::GSI_COUNT_MAX
        ))
    }

    /// (emu, dynamodb-facts §7.3) More LSIs than the per-table quota.
    pub(crate) fn local_index_count_exceeded() -> Error {
        Error::invalid_parameter(format!(
            "Number of LocalSecondaryIndexes exceeds per-table limit of {}",
            limits::LSI_COUNT_MAX
        ))
    }

    /// (obs, dynamodb-facts §7.1) Two indexes of one name in CreateTable.
    pub(crate) fn index_name_duplicate(index_name: &str) -> Error {
        Error::invalid_parameter(format!("Duplicate index name: {index_name}"))
    }

    /// (obs?) More INCLUDE attributes across all indexes than the per-table quota.
    pub(crate) fn projected_attribute_count_exceeded() -> Error {
        Error::invalid_parameter(format!(
            "The number of projected attributes across all secondary indexes exceeds the per-table limit of {}",
            limits::PROJECTED_ATTRIBUTE_COUNT_MAX
        ))
    }

    /// (emu, dynamodb-facts §7.3) An LSI on a table without a sort key.
    pub(crate) fn local_index_without_table_range_key() -> Error {
        Error::invalid_parameter(
            "Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex",
        )
    }

    /// (emu, dynamodb-facts §7.3; the ". index hash key: …" tail is dynalite's,
    /// validations/createTable.js) An LSI whose partition key is not the table's.
    pub(crate) fn local_index_hash_key_differs(
        index_name: &str,
        index_hash: &str,
        table_hash: &str,
    ) -> Error {
        Error::invalid_parameter(format!(
            "Index KeySchema does not have the same leading hash key as table KeySchema for index: {index_name}. index hash key: {index_hash}, table hash key: {table_hash}"
        ))
    }

    /// (emu, dynamodb-facts §7.3) An LSI without a sort key.
    pub(crate) fn local_index_without_range_key(index_name: &str) -> Error {
        Error::invalid_parameter(format!(
            "Index KeySchema does not have a range key for index: {index_name}"
        ))
    }

    /// (emu, dynalite actions/updateTable.js) A GSI of a PROVISIONED table without
    /// ProvisionedThroughput.
    pub(crate) fn index_throughput_required(index_name: &str) -> Error {
        Error::invalid_parameter(format!(
            "ProvisionedThroughput must be specified for index: {index_name}"
        ))
    }

    /// (emu, dynamodb-facts §6.3) A GSI of a PAY_PER_REQUEST table with ProvisionedThroughput.
    pub(crate) fn index_throughput_with_pay_per_request(index_name: &str) -> Error {
        Error::invalid_parameter(format!(
            "ProvisionedThroughput should not be specified for index: {index_name} when BillingMode is PAY_PER_REQUEST"
        ))
    }

    /// (obs?) `GlobalSecondaryIndexUpdates: []`.
    pub(crate) fn index_updates_empty() -> Error {
        Error::invalid_parameter("GlobalSecondaryIndexUpdates must not be empty")
    }

    /// (obs?) A GlobalSecondaryIndexUpdate with none or several of Create, Update, Delete.
    pub(crate) fn index_update_action_invalid() -> Error {
        Error::invalid_parameter(
            "One of GlobalSecondaryIndexUpdate.Create, GlobalSecondaryIndexUpdate.Update or GlobalSecondaryIndexUpdate.Delete must be specified",
        )
    }

    /// (emu, dynamodb-facts §12.3) Two GlobalSecondaryIndexUpdates of one index.
    pub(crate) fn index_update_repeated(index_name: &str) -> Error {
        Error::validation(format!(
            "Only one global secondary index update per index is allowed simultaneously. Index: {index_name}"
        ))
    }

    /// (ours, `docs/compatibility.md`) Creating a GSI of a name the table has.
    pub(crate) fn index_already_exists(index_name: &str) -> Error {
        Error::validation(format!(
            "Attempting to create an index which already exists: {index_name}"
        ))
    }

    /// (obs?) An UpdateTable AttributeDefinition without a name or a type.
    pub(crate) fn attribute_definition_incomplete() -> Error {
        Error::invalid_parameter(
            "AttributeDefinitions must have an AttributeName and an AttributeType",
        )
    }

    /// (obs, the generic constraint form of §2.3) An UpdateTable AttributeDefinition of a type
    /// other than B, N and S.
    pub(crate) fn attribute_definition_type_invalid(attribute_type: &str) -> Error {
        Error::one_constraint_failed(
            &format!("'{attribute_type}'"),
            "attributeDefinitions.member.attributeType",
            &constraint::enum_value_set("B, N, S"),
        )
    }

    /// (obs?) An UpdateTable AttributeDefinition that retypes a defined attribute.
    pub(crate) fn attribute_definition_type_changed(attribute: &str) -> Error {
        Error::invalid_parameter(format!(
            "Cannot change the type of attribute {attribute}, which is already defined"
        ))
    }

    /// (ours, `docs/compatibility.md`) Updating or deleting a GSI the table does not have.
    pub(crate) fn index_not_found(index_name: &str) -> Error {
        Error::new(
            ErrorKind::ResourceNotFound,
            format!("Requested resource not found: Index: {index_name} not found"),
        )
    }

    /// (obs?: the text as remembered from the service's answers; no source on this machine)
    /// Query or Scan of a GSI still CREATING.
    pub(crate) fn index_backfilling(index_name: &str) -> Error {
        Error::validation(format!(
            "Cannot read from backfilling global secondary index: {index_name}"
        ))
    }

    /// (emu, dynalite actions/updateTable.js; chosen in `docs/compatibility.md`) A second index
    /// creation or deletion while one is pending.
    pub(crate) fn online_index_change_exceeded() -> Error {
        Error::new(
            ErrorKind::LimitExceeded,
            "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table",
        )
    }
}

// Tags, Contributor Insights and ARNs.
impl Error {
    /// (obs?) A tag key starting with `aws:`.
    pub(crate) fn tag_key_reserved() -> Error {
        Error::validation("Tag keys starting with 'aws:' are reserved for system use")
    }

    /// (obs: a ValidationException, at creation and in TagResource, in Alternator's
    /// test_tag.py run against the service; the text: obs?) More than 50 tags on one table.
    pub(crate) fn tag_count_exceeded() -> Error {
        Error::validation("The number of tags on a resource exceeds the per-resource limit of 50")
    }

    /// (obs, the generic constraint form of §2.3; dynalite validations/tagResource.js has this
    /// text) TagResource without Tags.
    pub(crate) fn tags_missing() -> Error {
        Error::one_constraint_failed("null", "tags", constraint::NOT_NULL)
    }

    /// (obs) TagResource with `Tags: []`; "Atleast" is AWS's.
    pub(crate) fn tags_empty() -> Error {
        Error::validation("Atleast one Tag needs to be provided as Input.")
    }

    /// (obs, the generic constraint form of §2.3; dynalite validations/untagResource.js has this
    /// text) UntagResource without TagKeys.
    pub(crate) fn tag_keys_missing() -> Error {
        Error::one_constraint_failed("null", "tagKeys", constraint::NOT_NULL)
    }

    /// (obs) UntagResource with `TagKeys: []`; "Atleast" is AWS's.
    pub(crate) fn tag_keys_empty() -> Error {
        Error::validation("Atleast one Tag Key needs to be provided as Input.")
    }

    /// (obs) A tagging call without ResourceArn.
    pub(crate) fn resource_arn_missing() -> Error {
        Error::one_constraint_failed("null", "resourceArn", constraint::NOT_NULL)
    }

    /// (obs) A well-formed table ARN of no table; "ResourcArn" is AWS's.
    pub(crate) fn resource_arn_not_found(arn: &str) -> Error {
        Error::new(
            ErrorKind::ResourceNotFound,
            format!("Requested resource not found: ResourcArn: {arn} not found"),
        )
    }

    /// (obs 2026-01, quoted in Alternator's test_tag.py as the service's answer) An index's
    /// ARN in a tagging call: indexes are not tagged apart from their table.
    pub(crate) fn index_arn_not_taggable(arn: &str) -> Error {
        Error::invalid_parameter(format!(
            "Invalid resource arn provided, only table or stream is accepted. Provided resource arn: {arn}"
        ))
    }

    /// (obs, issue 11 and dynalite's tests of the service: ListTagsOfResource is refused, not
    /// "not found"; the caller is the account's root in dynasim, which has no users)
    /// ListTagsOfResource on a well-formed ARN of no table.
    pub(crate) fn list_tags_access_denied(account_id: &str, arn: &str) -> Error {
        Error::new(
            ErrorKind::AccessDenied,
            format!(
                "User: arn:aws:iam::{account_id}:root is not authorized to perform: dynamodb:ListTagsOfResource on resource: {arn}"
            ),
        )
    }

    /// (ours, docs/compatibility.md; the service rejects these characters with a
    /// ValidationException whose text was not recorded) A tag key or value with a character
    /// outside letters, digits, whitespace and `_ . : / = + - @`.
    pub(crate) fn tag_characters_invalid(value: &str, path: &str, key: bool) -> Error {
        let quantifier = if key { '+' } else { '*' };
        Error::one_constraint_failed(
            &format!("'{value}'"),
            path,
            &format!(
                "Member must satisfy regular expression pattern: [\\p{{L}}\\p{{Z}}\\p{{N}}_.:/=+\\-@]{quantifier}"
            ),
        )
    }

    /// (obs) A ResourceArn that is not a table ARN.
    pub(crate) fn table_arn_invalid(arn: &str) -> Error {
        Error::validation(format!(
            "Invalid TableArn: Invalid ResourceArn provided as input {arn}"
        ))
    }

    /// (ours) Contributor Insights for an index; recorded in `docs/compatibility.md`.
    pub(crate) fn insights_per_index_not_implemented() -> Error {
        Error::validation(
            "dynasim tracks Contributor Insights per table, not per index; see docs/compatibility.md",
        )
    }

    /// (obs, the generic constraint form of §2.3) A ContributorInsightsAction other than ENABLE or
    /// DISABLE; `null` when absent.
    pub(crate) fn insights_action_invalid(action: &str) -> Error {
        Error::one_constraint_failed(
            &format!("'{action}'"),
            "contributorInsightsAction",
            &constraint::enum_value_set("ENABLE, DISABLE"),
        )
    }

    /// (obs?) ListContributorInsights MaxResults outside 1..=100 (AWS names only the upper
    /// bound, whichever side is crossed).
    pub(crate) fn insights_max_results_invalid(max_results: i64) -> Error {
        Error::one_constraint_failed(
            &format!("'{max_results}'"),
            "maxResults",
            &constraint::value_at_most(100),
        )
    }
}
