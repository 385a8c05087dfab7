//! The pieces queue adapter against moto's SQS: more pieces than one SendMessageBatch takes all
//! arrive, each once.

use relay_aws::SqsQueue;
use relay_core::ports::PieceQueue;
use relay_tests::MotoServer;

#[tokio::test]
async fn twenty_five_pieces_go_out_in_three_batches_and_all_arrive() {
    let moto = MotoServer::start().unwrap();
    let config = moto.sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let url = sqs
        .create_queue()
        .queue_name("pieces")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let pieces: Vec<String> = (0..25).map(|i| format!("{{\"piece\":{i}}}")).collect();
    SqsQueue::new(sqs.clone(), &url)
        .send_pieces(&pieces)
        .await
        .unwrap();
    let mut got = std::collections::BTreeSet::new();
    for _ in 0..10 {
        let out = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        got.extend(
            out.messages()
                .iter()
                .filter_map(|m| m.body().map(str::to_string)),
        );
        if got.len() == 25 {
            break;
        }
    }
    assert_eq!(got, pieces.into_iter().collect());
}
