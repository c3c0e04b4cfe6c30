"""The one-line messages for a secured cluster that refuses the console, from librdkafka's own texts
(as its error_cb reports them, copied from a run against the local broker)."""

from confluent_kafka import KafkaError

from groups.kafka import refusals as kafka_refusals

BOOTSTRAP = "127.0.0.1:9093"
REJECTED = KafkaError(
    KafkaError._AUTHENTICATION,
    (
        "sasl_ssl://127.0.0.1:9093/bootstrap: SASL authentication error: Authentication failed during authentication "
        "due to invalid credentials with SASL mechanism SCRAM-SHA-512 (after 310ms in state AUTH_REQ)"
    ),
)
UNTRUSTED = KafkaError(
    KafkaError._SSL,
    (
        "sasl_ssl://127.0.0.1:9093/bootstrap: SSL handshake failed: error:0A000086:SSL routines::certificate verify "
        "failed: broker certificate could not be verified, verify that ssl.ca.location is correctly configured or root "
        "CA certificates are installed (install ca-certificates package) (after 6ms in state SSL_HANDSHAKE)"
    ),
)


def test_a_rejected_password_says_so_without_the_broker_prefix_or_the_connection_state():
    assert kafka_refusals.refusal_message(REJECTED, "/etc/kafka/ca.pem", BOOTSTRAP) == (
        "Kafka at 127.0.0.1:9093 rejected the console's credentials (SASL authentication error: Authentication "
        "failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512). Check the "
        "cluster's SASL user and the password its secret reference points to."
    )


def test_an_untrusted_certificate_names_the_ca_file_it_was_checked_against():
    message = kafka_refusals.refusal_message(UNTRUSTED, "/etc/kafka/ca.pem", BOOTSTRAP)
    assert message == (
        "Kafka at 127.0.0.1:9093 presented a TLS certificate that was not trusted (certificate verify failed) by the "
        "CA file /etc/kafka/ca.pem. Set the cluster's CA file to the CA that signed the brokers' certificates."
    )
    assert "\n" not in message


def test_without_a_ca_file_the_system_cas_are_named():
    message = kafka_refusals.refusal_message(UNTRUSTED, "", BOOTSTRAP)
    assert "not trusted (certificate verify failed) by the system's CA certificates." in message


def test_an_unknown_ca_is_not_guessed():
    message = kafka_refusals.refusal_message(UNTRUSTED, None, BOOTSTRAP)
    assert "not trusted (certificate verify failed) by the cluster's CA certificates." in message


class _Client:
    """Stands in for an AdminClient: librdkafka hands queued errors to error_cb only when polled."""

    def __init__(self, error_cb, queued):
        self.error_cb, self.queued = error_cb, queued

    def poll(self, timeout):
        while self.queued:
            self.error_cb(self.queued.pop(0))


def test_a_client_s_refusal_is_found_once_polled_while_recent_and_only_for_that_client(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(kafka_refusals.time, "monotonic", lambda: now[0])
    other = KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down")
    refused = _Client(kafka_refusals.refusal_recorder("refused", "/ca.pem"), [REJECTED, other])
    fine = _Client(kafka_refusals.refusal_recorder("fine", "/ca.pem"), [other])

    refusal = kafka_refusals.recent_refusal("refused", refused, timeout=5)

    assert refusal is not None and refusal.error is REJECTED and refusal.ca_location == "/ca.pem"
    assert kafka_refusals.recent_refusal("fine", fine, timeout=5) is None
    now[0] += 14.9  # within the request's 5 s and librdkafka's 10 s between retries
    assert kafka_refusals.recent_refusal("refused", refused, timeout=5) is refusal
    now[0] += 0.2
    assert kafka_refusals.recent_refusal("refused", refused, timeout=5) is None
