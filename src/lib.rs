//! nrtq: auto-refilling queues over the AWS Neuron Runtime explicit async API.
