/**
 * DescribeCluster (key 60), v0-1: cluster id, controller and brokers (this node, at its
 * advertised address). v1 asks for brokers (endpoint type 1) or controllers (2); a single
 * node answers brokers, and a request for controllers gets MISMATCHED_ENDPOINT_TYPE as a Kafka
 * broker listener does.
 */
import { KafkaErrorCode } from "../errors.ts";
import type { KafkaHandler } from "./handler.ts";

export const describeClusterVersions = { minVersion: 0, maxVersion: 1 } as const;

const endpointTypeBrokers = 1;
/** Kafka's "authorized operations not requested" sentinel (INT32 min). */
const operationsNotRequested = -2147483648;

export const handleDescribeCluster: KafkaHandler<60> = (context, request) => {
  const wanted = request.body.endpointType ?? endpointTypeBrokers;
  const base = {
    throttleTimeMs: 0,
    endpointType: endpointTypeBrokers,
    clusterId: context.broker.clusterId,
    controllerId: context.nodeId,
    clusterAuthorizedOperations: operationsNotRequested,
  };
  if (wanted !== endpointTypeBrokers) {
    return {
      ...base,
      errorCode: KafkaErrorCode.MISMATCHED_ENDPOINT_TYPE,
      errorMessage: "this listener serves brokers; there is no separate controller listener",
      brokers: [],
    };
  }
  const { host, port } = context.advertised;
  return {
    ...base,
    errorCode: KafkaErrorCode.NONE,
    errorMessage: null,
    brokers: [{ brokerId: context.nodeId, host, port, rack: null }],
  };
};
