//! The Regions AWS has, per partition: `regions.txt`, generated from botocore's partitions.json
//! by `scripts/gen-regions` (which says how to refresh it). Unlike `arn::is_region_name`, which
//! checks only a name's shape, these know which Regions exist: `relay emulate` refuses requests
//! signed for any other, as AWS does.

/// `partition region` lines; `#` starts a comment.
const REGIONS: &str = include_str!("regions.txt");

/// Every known Region with its partition, in the file's order.
pub fn known_regions() -> impl Iterator<Item = (&'static str, &'static str)> {
    REGIONS
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(' '))
}

/// `region` exists in `partition`.
pub fn is_known_region(partition: &str, region: &str) -> bool {
    known_regions().any(|(p, r)| p == partition && r == region)
}

/// The partition of a Region that exists; `None` for a Region AWS does not have.
pub fn partition_of_region(region: &str) -> Option<&'static str> {
    known_regions().find(|(_, r)| *r == region).map(|(p, _)| p)
}

/// Why `region` cannot be used, if it cannot: not a Region's shape, or not a Region AWS has.
pub fn region_problem(region: &str) -> Option<String> {
    if !crate::arn::is_region_name(region) {
        return Some(format!("'{region}' is not a Region name (like us-east-1)"));
    }
    partition_of_region(region).is_none().then(|| {
        format!(
            "'{region}' is not a Region AWS has (the list is botocore's, in \
             shared/core/src/regions.txt; scripts/gen-regions refreshes it)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_regions_have_their_partition() {
        for (partition, region) in [
            ("aws", "us-east-1"),
            ("aws", "eu-west-1"),
            ("aws", "ap-southeast-4"),
            ("aws-cn", "cn-northwest-1"),
            ("aws-us-gov", "us-gov-west-1"),
            ("aws-iso-b", "us-isob-east-1"),
            ("aws-eusc", "eusc-de-east-1"),
        ] {
            assert!(is_known_region(partition, region), "{partition} {region}");
            assert_eq!(partition_of_region(region), Some(partition), "{region}");
        }
    }

    #[test]
    fn made_up_regions_and_wrong_partitions_are_unknown() {
        for region in ["xx-fake-1", "us-east-9", "aws-global", "", "us-east-1 "] {
            assert_eq!(partition_of_region(region), None, "{region:?}");
            assert!(!is_known_region("aws", region), "{region:?}");
        }
        assert!(!is_known_region("aws-cn", "us-east-1"));
        assert!(!is_known_region("aws", "cn-north-1"));
    }

    #[test]
    fn every_line_is_a_partition_and_a_well_formed_region() {
        let all: Vec<_> = known_regions().collect();
        assert!(all.len() > 30, "{}", all.len());
        for (partition, region) in all {
            assert!(crate::arn::is_known_partition(partition), "{partition}");
            assert!(crate::arn::is_region_name(region), "{region}");
            assert_eq!(
                crate::arn::partition_of_region(region),
                partition,
                "{region}"
            );
        }
    }
}
