// A work queue with its dead-letter queue: redrive after maxReceiveCount, SSE, and an alarm as soon as
// anything lands in the DLQ. Mirrors `QueueSpec` in shared/src/queues.rs.
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface WorkerQueueProps {
  /** Logical name, as in shared/src/queues.rs (e.g. `echo`). */
  readonly name: string;
  /** At least 6× the consumer's timeout (AWS guidance for Lambda event sources). */
  readonly visibilityTimeout: Duration;
  readonly maxReceiveCount: number;
}

export class WorkerQueue extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly dlqAlarm: cloudwatch.Alarm;
  readonly logicalName: string;

  constructor(scope: Construct, id: string, props: WorkerQueueProps) {
    super(scope, id);
    this.logicalName = props.name;
    this.deadLetterQueue = new sqs.Queue(this, 'Dlq', {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      visibilityTimeout: props.visibilityTimeout,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount },
    });
    this.dlqAlarm = new cloudwatch.Alarm(this, 'DlqNotEmpty', {
      alarmDescription: `Messages in the ${props.name} dead-letter queue: inspect, fix, then redrive`,
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1) }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  /** Environment variables through which the Rust `SqsQueue` finds both queues. */
  environment(): Record<string, string> {
    const key = this.logicalName.toUpperCase().replace(/-/g, '_');
    return {
      [`WEBTRIGGER_QUEUE_URL_${key}`]: this.queue.queueUrl,
      [`WEBTRIGGER_QUEUE_URL_${key}_DLQ`]: this.deadLetterQueue.queueUrl,
    };
  }
}
