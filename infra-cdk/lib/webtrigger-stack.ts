// The whole AWS deployment: one table, the envelope-encryption key, platform secrets, work queues,
// one Lambda per route group / worker / tick, the HTTP API, the minute rule, and the dashboard on
// S3 + CloudFront with /v1/* routed to the API.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Annotations, CfnCondition, CfnOutput, CfnParameter, Duration, Fn, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { LiveWebSocket } from './constructs/live-websocket.ts';
import { DEFAULT_ASSET_ROOT, RustFunction } from './constructs/rust-function.ts';
import { WorkerQueue } from './constructs/worker-queue.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const SITE_DIST = path.resolve(here, '../../static-site/dist');
const SECRETS_PREFIX = 'webtrigger/';
/** Partition keys api-subscribers touches: `SITE#<id>` pointers, `WS#…` site data (subscriber shards,
 *  stats, notifications, event endpoints and records; gsi1 `WS#…#EXT#…`), and `RL#public#…` buckets. */
export const PUBLIC_KEY_SPACES = ['SITE#*', 'WS#*', 'RL#public#*'];

export class WebTriggerStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const assetRoot: string = this.node.tryGetContext('lambdaAssetRoot') ?? DEFAULT_ASSET_ROOT;

    const table = new dynamodb.TableV2(this, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billing: dynamodb.Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: 'ttl',
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
      globalSecondaryIndexes: [
        {
          indexName: 'gsi1',
          partitionKey: { name: 'gsi1pk', type: dynamodb.AttributeType.STRING },
          sortKey: { name: 'gsi1sk', type: dynamodb.AttributeType.STRING },
          projectionType: dynamodb.ProjectionType.ALL,
        },
      ],
    });

    // Master key for envelope encryption of credentials and VAPID keys (the `Keyring` port).
    const key = new kms.Key(this, 'EnvelopeKey', {
      alias: 'alias/webtrigger',
      description: 'WebTrigger envelope encryption (data keys bound to an encryption context)',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // Access-token signing keys: rotate by copying the current value to -previous, then regenerating.
    const signingSecrets = ['token-signing-key', 'token-signing-key-previous'].map(
      (name) =>
        new secretsmanager.Secret(this, name.replace(/(^|-)(\w)/g, (_m, _d, c: string) => c.toUpperCase()), {
          secretName: `${SECRETS_PREFIX}${name}`,
          description: `WebTrigger ${name} (HS256 access tokens)`,
          generateSecretString: { passwordLength: 64, excludePunctuation: true },
        }),
    );

    // Members' devices are notified with a VAPID key derived from this secret (the dashboard opt-in).
    const dashboardVapid = new secretsmanager.Secret(this, 'DashboardVapidKey', {
      secretName: `${SECRETS_PREFIX}dashboard-vapid-key`,
      description: 'WebTrigger dashboard VAPID key material (members\' own devices)',
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
    });

    const echo = new WorkerQueue(this, 'EchoQueue', { name: 'echo', visibilityTimeout: Duration.seconds(60), maxReceiveCount: 5 });
    const pushSend = new WorkerQueue(this, 'PushSendQueue', { name: 'push-send', visibilityTimeout: Duration.seconds(180), maxReceiveCount: 5 });
    const whatsappSend = new WorkerQueue(this, 'WhatsAppSendQueue', { name: 'whatsapp-send', visibilityTimeout: Duration.seconds(360), maxReceiveCount: 5 });
    const webhookProcess = new WorkerQueue(this, 'WebhookProcessQueue', { name: 'webhook-process', visibilityTimeout: Duration.seconds(360), maxReceiveCount: 5 });
    const eventsOut = new WorkerQueue(this, 'EventsOutQueue', { name: 'events-out', visibilityTimeout: Duration.seconds(360), maxReceiveCount: 5 });
    const campaigns = new WorkerQueue(this, 'CampaignsQueue', { name: 'campaigns', visibilityTimeout: Duration.seconds(360), maxReceiveCount: 5 });
    const feeds = new WorkerQueue(this, 'FeedsQueue', { name: 'feeds', visibilityTimeout: Duration.seconds(360), maxReceiveCount: 5 });

    const baseEnv = {
      WEBTRIGGER_BACKEND: 'aws',
      WEBTRIGGER_TABLE: table.tableName,
      WEBTRIGGER_KMS_KEY_ID: key.keyArn,
      WEBTRIGGER_SECRETS_PREFIX: SECRETS_PREFIX,
    };
    // Reserved concurrency is opt-in: a new account's limit of 10 concurrent executions cannot reserve 41.
    const reserve = this.node.tryGetContext('reservedConcurrency') === true || this.node.tryGetContext('reservedConcurrency') === 'true';
    const fn = (id: string, entry: string, description: string, extra: Record<string, string> = {}, more: Partial<{ timeout: Duration; reserved: number }> = {}) =>
      new RustFunction(this, id, { entry, description, assetRoot, environment: { ...baseEnv, ...extra }, timeout: more.timeout, reservedConcurrentExecutions: reserve ? more.reserved : undefined });

    const apiHealth = fn('ApiHealth', 'api-health', 'GET /v1/health and /v1/openapi.json');
    const apiAuth = fn('ApiAuth', 'api-auth', 'Sign-up, login, refresh, /v1/me, invite acceptance');
    const apiWorkspaces = fn('ApiWorkspaces', 'api-workspaces', 'Workspaces, members, invites, API keys, audit log');
    const workerEcho = fn('WorkerEcho', 'worker-echo', 'Consumes tick heartbeats from the echo queue', echo.environment());
    const apiSites = fn('ApiSites', 'api-sites', 'Web Push sites, subscribers (admin), notifications, segments, welcome drips, recurring schedules', pushSend.environment());
    const apiFeeds = fn('ApiFeeds', 'api-feeds', "A site's RSS/Atom feeds: settings, items, poll now (guarded outbound HTTP; new items become notifications)", pushSend.environment());
    const apiSubscribers = fn('ApiSubscribers', 'api-subscribers', 'Public endpoints for the site SDK (subscribe, tags, tracking)');
    const workerPushSend = fn('WorkerPushSend', 'worker-push-send', 'Web Push fan-out and delivery', pushSend.environment(), { timeout: Duration.seconds(30), reserved: 20 });
    const apiCredentials = fn('ApiCredentials', 'api-credentials', 'WhatsApp provider credentials (sealed) and channels');
    const apiMessages = fn('ApiMessages', 'api-messages', 'WhatsApp send API and message log', whatsappSend.environment());
    const workerWhatsAppSend = fn('WorkerWhatsappSend', 'worker-whatsapp-send', 'Sends queued WhatsApp messages through Twilio, Meta or Whapi', whatsappSend.environment(), { timeout: Duration.seconds(60), reserved: 10 });
    const hookMeta = fn('HookMeta', 'hook-meta', 'Meta WhatsApp webhooks: verify, check signature, store, queue', webhookProcess.environment());
    const hookTwilio = fn('HookTwilio', 'hook-twilio', 'Twilio WhatsApp webhooks: check signature, store, queue', webhookProcess.environment());
    const hookWhapi = fn('HookWhapi', 'hook-whapi', 'Whapi webhooks: check the secret header, store, queue', webhookProcess.environment());
    const workerWebhookProcess = fn('WorkerWebhookProcess', 'worker-webhook-process', 'Stored provider webhooks into conversations, statuses, consent', webhookProcess.environment(), { timeout: Duration.seconds(60) });
    const apiInbox = fn('ApiInbox', 'api-inbox', 'Conversations, replies, team actions, consent, webhook replay', { ...whatsappSend.environment(), ...webhookProcess.environment() });
    const hookTrigger = fn('HookTrigger', 'hook-trigger', 'Public POST /t/{trigger}: verify, dedupe, render, send', { ...pushSend.environment(), ...whatsappSend.environment(), ...eventsOut.environment() }, { timeout: Duration.seconds(30) });
    const apiTriggers = fn('ApiTriggers', 'api-triggers', 'Triggers, secrets, preview, invocation log and replay; event endpoints', { ...pushSend.environment(), ...whatsappSend.environment(), ...eventsOut.environment() });
    const apiFlows = fn('ApiFlows', 'api-flows', 'Bot flows: drafts, versions, publish, API start, simulator, answers, funnel, bot switch', whatsappSend.environment());
    const workerEventsOut = fn('WorkerEventsOut', 'worker-events-out', 'Signs and delivers platform events to workspace endpoints, with retries', eventsOut.environment(), { timeout: Duration.seconds(60), reserved: 10 });
    const cronTick = fn('CronTick', 'cron-tick', 'Minute tick: due jobs (scheduled pushes, drip steps, recurring runs, feed polls), outbox sweeps, event webhook retries, heartbeat', { ...echo.environment(), ...pushSend.environment(), ...whatsappSend.environment(), ...eventsOut.environment(), ...campaigns.environment(), ...feeds.environment() }, { timeout: Duration.seconds(50), reserved: 1 });
    const apiCampaigns = fn('ApiCampaigns', 'api-campaigns', 'Contacts (import, export, GDPR erase), audiences, WhatsApp broadcasts', campaigns.environment());
    const workerFeeds = fn('WorkerFeeds', 'worker-feeds', 'Polls due RSS/Atom feeds (guarded outbound HTTP); new items become notifications', { ...feeds.environment(), ...pushSend.environment() }, { timeout: Duration.seconds(60) });
    const workerCampaigns = fn('WorkerCampaigns', 'worker-campaigns', 'Contact-import chunks and broadcast fan-out pages', { ...campaigns.environment(), ...whatsappSend.environment() }, { timeout: Duration.seconds(60) });
    const liveWebsocket = fn('LiveWebsocket', 'live-websocket', 'Live-updates WebSocket API: $connect (stream ticket), $disconnect, $default');

    // Least privilege, per function.
    apiHealth.addToRolePolicy(new iam.PolicyStatement({ actions: ['dynamodb:GetItem'], resources: [table.tableArn] }));
    for (const f of [apiAuth, apiWorkspaces, apiSites, apiFeeds]) {
      table.grantReadWriteData(f);
      signingSecrets.forEach((s) => s.grantRead(f));
    }
    // VAPID private keys: sealed by api-sites, opened by the sender, each only under its own purpose.
    const vapidOnly = { StringEquals: { 'kms:EncryptionContext:purpose': 'vapid' } };
    apiSites.addToRolePolicy(new iam.PolicyStatement({ actions: ['kms:GenerateDataKey'], resources: [key.keyArn], conditions: vapidOnly }));
    workerPushSend.addToRolePolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: [key.keyArn], conditions: vapidOnly }));
    pushSend.queue.grantSendMessages(apiSites);
    pushSend.queue.grantSendMessages(apiFeeds);
    dashboardVapid.grantRead(apiAuth);
    // The public SDK endpoints are the internet-facing surface: no Scan, no BatchWrite, and only the key
    // spaces they own (sites' public pointers, workspace data under WS#, their own rate-limit buckets).
    // TransactWriteItems is authorised per contained Put/Delete/ConditionCheck, so it needs no grant of its own.
    apiSubscribers.addToRolePolicy(new iam.PolicyStatement({
      actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Query', 'dynamodb:ConditionCheckItem'],
      resources: [table.tableArn, `${table.tableArn}/index/*`],
      conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': PUBLIC_KEY_SPACES } },
    }));
    table.grantReadWriteData(workerPushSend);
    workerPushSend.addEventSource(new SqsEventSource(pushSend.queue, { batchSize: 10, maxBatchingWindow: Duration.seconds(1), reportBatchItemFailures: true }));
    pushSend.queue.grantSendMessages(workerPushSend);
    pushSend.deadLetterQueue.grantSendMessages(workerPushSend);
    workerEcho.addToRolePolicy(new iam.PolicyStatement({ actions: ['dynamodb:PutItem'], resources: [table.tableArn] }));
    workerEcho.addEventSource(new SqsEventSource(echo.queue, { batchSize: 10, maxBatchingWindow: Duration.seconds(1), reportBatchItemFailures: true }));
    echo.deadLetterQueue.grantSendMessages(workerEcho);
    table.grantReadWriteData(cronTick);
    echo.queue.grantSendMessages(cronTick);
    // The tick's outbox sweeps re-queue sends lost between record and enqueue; it also starts scheduled
    // notifications and releases held deliver jobs (time zones, quiet hours, pacing, A/B rest) to push-send.
    pushSend.queue.grantSendMessages(cronTick);
    whatsappSend.queue.grantSendMessages(cronTick);

    // WhatsApp: provider credentials are sealed and opened only under purpose=provider-credential.
    const credentialsOnly = { StringEquals: { 'kms:EncryptionContext:purpose': 'provider-credential' } };
    for (const f of [apiCredentials, apiMessages, workerWhatsAppSend]) table.grantReadWriteData(f);
    for (const f of [apiCredentials, apiMessages]) signingSecrets.forEach((s) => s.grantRead(f));
    apiCredentials.addToRolePolicy(new iam.PolicyStatement({ actions: ['kms:GenerateDataKey', 'kms:Decrypt'], resources: [key.keyArn], conditions: credentialsOnly }));
    workerWhatsAppSend.addToRolePolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: [key.keyArn], conditions: credentialsOnly }));
    whatsappSend.queue.grantSendMessages(apiMessages);
    workerWhatsAppSend.addEventSource(new SqsEventSource(whatsappSend.queue, { batchSize: 10, maxBatchingWindow: Duration.seconds(1), reportBatchItemFailures: true }));
    whatsappSend.queue.grantSendMessages(workerWhatsAppSend);
    whatsappSend.deadLetterQueue.grantSendMessages(workerWhatsAppSend);

    // Provider webhooks: receivers verify with the credential's webhook secret (KMS, same purpose), store
    // and queue; the processor writes the inbox and notifies assignees' devices.
    for (const f of [hookMeta, hookTwilio, hookWhapi, workerWebhookProcess, apiInbox]) table.grantReadWriteData(f);
    for (const f of [hookMeta, hookTwilio]) f.addToRolePolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: [key.keyArn], conditions: credentialsOnly }));
    for (const f of [hookMeta, hookTwilio, hookWhapi]) webhookProcess.queue.grantSendMessages(f);
    workerWebhookProcess.addEventSource(new SqsEventSource(webhookProcess.queue, { batchSize: 10, maxBatchingWindow: Duration.seconds(1), reportBatchItemFailures: true }));
    webhookProcess.deadLetterQueue.grantSendMessages(workerWebhookProcess);
    dashboardVapid.grantRead(workerWebhookProcess);
    signingSecrets.forEach((s) => s.grantRead(apiInbox));
    whatsappSend.queue.grantSendMessages(apiInbox);
    webhookProcess.queue.grantSendMessages(apiInbox);
    // Triggers: secrets sealed by api-triggers and opened by the public receiver, under purpose=trigger-secret;
    // event endpoint secrets sealed by api-triggers and opened by the sender, under purpose=event-webhook-secret.
    // Triggers send through the push and WhatsApp queues (and members' devices directly); failures and
    // platform events go to the events-out queue, which the tick refills with long-delay retries.
    const triggerSecret = { StringEquals: { 'kms:EncryptionContext:purpose': 'trigger-secret' } };
    const endpointSecret = { StringEquals: { 'kms:EncryptionContext:purpose': 'event-webhook-secret' } };
    for (const f of [hookTrigger, apiTriggers, workerEventsOut]) table.grantReadWriteData(f);
    signingSecrets.forEach((s) => s.grantRead(apiTriggers));
    apiTriggers.addToRolePolicy(new iam.PolicyStatement({ actions: ['kms:GenerateDataKey', 'kms:Decrypt'], resources: [key.keyArn], conditions: triggerSecret }));
    apiTriggers.addToRolePolicy(new iam.PolicyStatement({ actions: ['kms:GenerateDataKey'], resources: [key.keyArn], conditions: endpointSecret }));
    hookTrigger.addToRolePolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: [key.keyArn], conditions: triggerSecret }));
    workerEventsOut.addToRolePolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: [key.keyArn], conditions: endpointSecret }));
    for (const f of [hookTrigger, apiTriggers]) {
      pushSend.queue.grantSendMessages(f);
      whatsappSend.queue.grantSendMessages(f);
      dashboardVapid.grantRead(f);
    }
    for (const f of [hookTrigger, apiTriggers, workerEventsOut, cronTick, workerWebhookProcess, apiSubscribers]) eventsOut.queue.grantSendMessages(f);
    workerEventsOut.addEventSource(new SqsEventSource(eventsOut.queue, { batchSize: 10, maxBatchingWindow: Duration.seconds(1), reportBatchItemFailures: true }));
    eventsOut.deadLetterQueue.grantSendMessages(workerEventsOut);
    // Platform events are emitted where they happen: inbound and status webhooks, push clicks.
    for (const f of [workerWebhookProcess, apiSubscribers]) {
      for (const [name, value] of Object.entries(eventsOut.environment())) f.addEnvironment(name, value);
    }

    // Bot flows: the API starts flows and the inbound processor runs them; both send through the
    // WhatsApp queue (the tick resumes timer waits with the grants it already has).
    table.grantReadWriteData(apiFlows);
    signingSecrets.forEach((s) => s.grantRead(apiFlows));
    for (const f of [apiFlows, workerWebhookProcess]) whatsappSend.queue.grantSendMessages(f);
    for (const [name, value] of Object.entries(whatsappSend.environment())) workerWebhookProcess.addEnvironment(name, value);

    // Contacts, audiences and broadcasts: the API queues import chunks and the first fan-out page; the worker
    // queues the next page and the sends; the tick starts scheduled broadcasts and releases local-time sends.
    for (const f of [apiCampaigns, workerCampaigns]) table.grantReadWriteData(f);
    signingSecrets.forEach((s) => s.grantRead(apiCampaigns));
    for (const f of [apiCampaigns, workerCampaigns, cronTick]) campaigns.queue.grantSendMessages(f);
    whatsappSend.queue.grantSendMessages(workerCampaigns);
    workerCampaigns.addEventSource(new SqsEventSource(campaigns.queue, { batchSize: 5, maxBatchingWindow: Duration.seconds(1), reportBatchItemFailures: true }));

    // Live updates: the WebSocket API's Lambda records connections; whoever publishes inbox, status or
    // send-progress events posts them to the workspace's connections.
    table.grantReadWriteData(liveWebsocket);
    const live = new LiveWebSocket(this, 'LiveUpdates', liveWebsocket);
    for (const f of [workerWebhookProcess, apiInbox, apiFlows, cronTick, workerPushSend, apiSites, apiSubscribers]) live.publisher(f);
    // The dashboard learns the WebSocket's public URL from GET /v1/health (and follows it instead of SSE).
    apiHealth.addEnvironment('WEBTRIGGER_LIVE_WS_URL', live.stage.url);

    // Feeds: the tick claims due feeds and queues one poll each; the worker fetches and creates
    // notifications (queueing their fan-out on push-send). Poll-now runs in api-feeds.
    table.grantReadWriteData(workerFeeds);
    feeds.queue.grantSendMessages(cronTick);
    pushSend.queue.grantSendMessages(workerFeeds);
    workerFeeds.addEventSource(new SqsEventSource(feeds.queue, { batchSize: 5, maxBatchingWindow: Duration.seconds(1), reportBatchItemFailures: true }));
    feeds.deadLetterQueue.grantSendMessages(workerFeeds);

    // Ticks EventBridge could not deliver (throttled, function missing) land here instead of vanishing.
    const tickDlq = new sqs.Queue(this, 'MinuteTickDlq', { retentionPeriod: Duration.days(14), encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true });
    new events.Rule(this, 'MinuteTick', {
      description: 'Runs cron-tick every minute; it catches up missed minutes from its cursor',
      schedule: events.Schedule.rate(Duration.minutes(1)),
      targets: [new targets.LambdaFunction(cronTick, { retryAttempts: 2, deadLetterQueue: tickDlq })],
    });
    new cloudwatch.Alarm(this, 'MinuteTickDlqNotEmpty', {
      alarmDescription: 'EventBridge could not deliver minute ticks to cron-tick',
      metric: tickDlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1) }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    const api = new apigw.HttpApi(this, 'HttpApi', { description: 'WebTrigger API (payload format 2.0)', createDefaultStage: true });
    const route = (paths: string[], handler: RustFunction, methods: apigw.HttpMethod[]) => {
      const integration = new HttpLambdaIntegration(`${handler.node.id}Integration`, handler, { payloadFormatVersion: apigw.PayloadFormatVersion.VERSION_2_0 });
      for (const p of paths) api.addRoutes({ path: p, methods, integration });
    };
    route(['/v1/health', '/v1/openapi.json'], apiHealth, [apigw.HttpMethod.GET]);
    route(['/v1/auth/{proxy+}', '/v1/me', '/v1/me/{proxy+}', '/v1/invites/{proxy+}'], apiAuth, [apigw.HttpMethod.ANY]);
    route(['/v1/workspaces', '/v1/workspaces/{proxy+}'], apiWorkspaces, [apigw.HttpMethod.ANY]);
    route(['/v1/workspaces/{ws}/sites', '/v1/workspaces/{ws}/sites/{proxy+}'], apiSites, [apigw.HttpMethod.ANY]);
    // A site's feeds have their own Lambda (the only one parsing feeds); the specific route wins over the greedy one.
    route(['/v1/workspaces/{ws}/sites/{site}/feeds', '/v1/workspaces/{ws}/sites/{site}/feeds/{proxy+}'], apiFeeds, [apigw.HttpMethod.ANY]);
    route(['/v1/public/{proxy+}'], apiSubscribers, [apigw.HttpMethod.ANY]);
    route(['/v1/workspaces/{ws}/credentials', '/v1/workspaces/{ws}/credentials/{proxy+}', '/v1/workspaces/{ws}/channels', '/v1/workspaces/{ws}/channels/{proxy+}'], apiCredentials, [apigw.HttpMethod.ANY]);
    route(['/v1/workspaces/{ws}/messages', '/v1/workspaces/{ws}/messages/{proxy+}'], apiMessages, [apigw.HttpMethod.ANY]);
    route(['/v1/workspaces/{ws}/conversations', '/v1/workspaces/{ws}/conversations/{proxy+}', '/v1/workspaces/{ws}/contacts/{phone}/consent', '/v1/workspaces/{ws}/webhook-events', '/v1/workspaces/{ws}/webhook-events/{proxy+}', '/v1/workspaces/{ws}/events', '/v1/workspaces/{ws}/events/{proxy+}', '/v1/workspaces/{ws}/attachments', '/v1/workspaces/{ws}/attachments/{proxy+}'], apiInbox, [apigw.HttpMethod.ANY]);
    // Signed attachment links Twilio fetches (`MediaUrl`); api-inbox reads the parts from the table.
    route(['/hooks/media/{proxy+}'], apiInbox, [apigw.HttpMethod.GET]);
    // A contact's consent history stays with api-inbox (the specific route wins over the greedy one).
    route(['/v1/workspaces/{ws}/contacts', '/v1/workspaces/{ws}/contacts/{proxy+}', '/v1/workspaces/{ws}/audiences', '/v1/workspaces/{ws}/audiences/{proxy+}', '/v1/workspaces/{ws}/broadcasts', '/v1/workspaces/{ws}/broadcasts/{proxy+}'], apiCampaigns, [apigw.HttpMethod.ANY]);
    route(['/hooks/meta/{proxy+}'], hookMeta, [apigw.HttpMethod.GET, apigw.HttpMethod.POST]);
    route(['/hooks/twilio/{proxy+}'], hookTwilio, [apigw.HttpMethod.POST]);
    route(['/hooks/whapi/{proxy+}'], hookWhapi, [apigw.HttpMethod.POST]);
    route(['/v1/workspaces/{ws}/triggers', '/v1/workspaces/{ws}/triggers/{proxy+}', '/v1/workspaces/{ws}/trigger-preview', '/v1/workspaces/{ws}/event-endpoints', '/v1/workspaces/{ws}/event-endpoints/{proxy+}'], apiTriggers, [apigw.HttpMethod.ANY]);
    route(['/t/{trigger}'], hookTrigger, [apigw.HttpMethod.POST]);
    // The bot switch sits under conversations; the specific route wins over api-inbox's greedy one.
    route(['/v1/workspaces/{ws}/flows', '/v1/workspaces/{ws}/flows/{proxy+}', '/v1/workspaces/{ws}/flow-check', '/v1/workspaces/{ws}/conversations/{conv}/bot'], apiFlows, [apigw.HttpMethod.ANY]);

    const site = new s3.Bucket(this, 'SiteBucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const siteOrigin = origins.S3BucketOrigin.withOriginAccessControl(site);
    const spaRewrite = new cloudfront.Function(this, 'SpaRewrite', {
      comment: 'Client-side routes (no file extension) get index.html',
      runtime: cloudfront.FunctionRuntime.JS_2_0,
      code: cloudfront.FunctionCode.fromInline(
        "function handler(event) { var r = event.request; if (!r.uri.startsWith('/v1/') && r.uri.lastIndexOf('.') <= r.uri.lastIndexOf('/')) { r.uri = '/index.html'; } return r; }",
      ),
    });
    const apiDomain = Fn.select(2, Fn.split('/', api.apiEndpoint));
    const noCache = { origin: siteOrigin, cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED, viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS };
    const distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: 'WebTrigger dashboard and API',
      defaultRootObject: 'index.html',
      defaultBehavior: {
        origin: siteOrigin,
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        functionAssociations: [{ function: spaRewrite, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST }],
      },
      additionalBehaviors: {
        '/v1/*': {
          origin: new origins.HttpOrigin(apiDomain, { protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY }),
          allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
          cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
          originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
          viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
        },
        // Trigger URLs and provider webhooks answer on the dashboard's domain too.
        '/t/*': { origin: new origins.HttpOrigin(apiDomain, { protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY }), allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL, cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED, originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER, viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY },
        '/hooks/*': { origin: new origins.HttpOrigin(apiDomain, { protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY }), allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL, cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED, originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER, viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY },
        // The service worker and the index must never be served stale, or updates never arrive.
        '/sw.js': noCache,
        '/index.html': noCache,
      },
    });

    // Twilio signs the URL it was configured with (the dashboard domain); behind CloudFront the receiver
    // sees the gateway's host, so it rebuilds the signed URL from this base.
    hookTwilio.addEnvironment('WEBTRIGGER_PUBLIC_URL', `https://${distribution.distributionDomainName}`);
    // The sender builds attachment links (`/hooks/media/…`) on that base for Twilio to fetch.
    workerWhatsAppSend.addEnvironment('WEBTRIGGER_PUBLIC_URL', `https://${distribution.distributionDomainName}`);

    const skipSite = this.node.tryGetContext('skipSiteDeployment') === true || this.node.tryGetContext('skipSiteDeployment') === 'true';
    if (!skipSite && fs.existsSync(path.join(SITE_DIST, 'index.html'))) {
      new s3deploy.BucketDeployment(this, 'SiteDeployment', {
        sources: [s3deploy.Source.asset(SITE_DIST)],
        destinationBucket: site,
        distribution,
        distributionPaths: ['/index.html', '/sw.js', '/manifest.webmanifest'],
      });
    } else if (!skipSite) {
      Annotations.of(this).addWarningV2('webtrigger:no-site', 'static-site/dist is missing: build the dashboard before deploying (cd static-site && npm run build)');
    }

    this.operations(api);

    new CfnOutput(this, 'ApiUrl', { value: api.apiEndpoint });
    new CfnOutput(this, 'LiveWebSocketUrl', { value: live.stage.url });
    new CfnOutput(this, 'DashboardUrl', { value: `https://${distribution.distributionDomainName}` });
    new CfnOutput(this, 'TableName', { value: table.tableName });
    new CfnOutput(this, 'EchoQueueUrl', { value: echo.queue.queueUrl });
    new CfnOutput(this, 'EchoDlqUrl', { value: echo.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'PushSendDlqUrl', { value: pushSend.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'WhatsAppSendDlqUrl', { value: whatsappSend.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'WebhookProcessDlqUrl', { value: webhookProcess.deadLetterQueue.queueUrl });
  }

  /**
   * Alarms on what users would notice, each notifying one SNS topic: every DLQ (WorkerQueue makes its own),
   * errors and throttles of every Rust function, API 5xx, and the heartbeat (minute tick → echo queue →
   * echo worker) going quiet. The action is attached to every alarm in the stack by construction.
   */
  private operations(api: apigw.HttpApi) {
    const email = new CfnParameter(this, 'AlarmEmail', {
      type: 'String',
      default: '',
      description: 'Address notified when an alarm fires (confirm the subscription e-mail); empty for none',
    });
    const topic = new sns.Topic(this, 'Alarms', { displayName: 'WebTrigger alarms' });
    const subscription = new sns.CfnSubscription(this, 'AlarmEmailSubscription', { topicArn: topic.topicArn, protocol: 'email', endpoint: email.valueAsString });
    subscription.cfnOptions.condition = new CfnCondition(this, 'HasAlarmEmail', { expression: Fn.conditionNot(Fn.conditionEquals(email.valueAsString, '')) });

    const once = { evaluationPeriods: 1, comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD, treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING };
    for (const f of this.node.findAll().filter((c): c is RustFunction => c instanceof RustFunction)) {
      new cloudwatch.Alarm(this, `${f.node.id}Errors`, { alarmDescription: `${f.entry}: invocations failed`, metric: f.metricErrors({ period: Duration.minutes(5) }), threshold: 0, ...once });
      new cloudwatch.Alarm(this, `${f.node.id}Throttles`, { alarmDescription: `${f.entry}: invocations throttled`, metric: f.metricThrottles({ period: Duration.minutes(5) }), threshold: 0, ...once });
    }
    new cloudwatch.Alarm(this, 'HttpApi5xx', { alarmDescription: 'HTTP API answered 5xx', metric: api.metricServerError({ period: Duration.minutes(5) }), threshold: 0, ...once });
    // worker-echo logs this metric (Embedded Metric Format) per heartbeat: none for 5 minutes means the
    // tick, the echo queue or the worker stopped, which is exactly what the alarm is for.
    new cloudwatch.Alarm(this, 'HeartbeatStale', {
      alarmDescription: 'No queue heartbeat processed for 5 minutes, or heartbeats lag more than 2 minutes (GET /v1/health heartbeat_age_seconds)',
      metric: new cloudwatch.Metric({ namespace: 'WebTrigger', metricName: 'HeartbeatLagSeconds', statistic: 'Maximum', period: Duration.minutes(5) }),
      threshold: 120,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });

    const action = new cwActions.SnsAction(topic);
    for (const alarm of this.node.findAll().filter((c): c is cloudwatch.Alarm => c instanceof cloudwatch.Alarm)) {
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
    }
    new CfnOutput(this, 'AlarmTopicArn', { value: topic.topicArn });
  }
}
