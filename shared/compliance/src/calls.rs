//! The items of one call to AWS: as many as its limits allow, in order.

/// Consecutive slices of `items` of at most `max_items` and `max_bytes` by `size`; an item alone
/// over `max_bytes` is a slice of its own (the call tells what it refuses).
pub fn slices<T>(
    items: &[T],
    max_items: usize,
    max_bytes: usize,
    size: impl Fn(&T) -> usize,
) -> Vec<&[T]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, item) in items.iter().enumerate() {
        let n = size(item);
        if i > start && (i - start == max_items || bytes + n > max_bytes) {
            out.push(&items[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += n;
    }
    if start < items.len() {
        out.push(&items[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_keep_to_both_limits_and_lose_nothing() {
        let items: Vec<usize> = (0..25).collect();
        let by_count: Vec<usize> = slices(&items, 10, usize::MAX, |_| 1)
            .iter()
            .map(|s| s.len())
            .collect();
        assert_eq!(by_count, [10, 10, 5]);
        let by_bytes: Vec<usize> = slices(&items, 10, 7, |_| 3)
            .iter()
            .map(|s| s.len())
            .collect();
        assert_eq!(by_bytes.iter().sum::<usize>(), 25);
        assert!(by_bytes.iter().all(|n| *n == 2 || *n == 1));
        assert_eq!(
            slices(&[100usize], 10, 7, |n| *n).len(),
            1,
            "one too large alone"
        );
        assert!(slices::<usize>(&[], 10, 7, |_| 1).is_empty());
    }
}
