// The live-updates WebSocket API: `$connect`, `$disconnect` and `$default` all reach the live-websocket
// Lambda, which redeems the single-use stream ticket (issued to a signed-in member by api-inbox) and keeps
// the connection under its workspace in the table. Publishers post events through the stage's
// management API; a client that reconnects catches up from its cursor (GET …/events?after=).
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Construct } from 'constructs';
import type { RustFunction } from './rust-function.ts';

export class LiveWebSocket extends Construct {
  readonly api: apigw.WebSocketApi;
  readonly stage: apigw.WebSocketStage;

  constructor(scope: Construct, id: string, handler: RustFunction) {
    super(scope, id);
    // (Not `Default`: CDK treats a child of that id as its parent's default child and the logical ids collide.)
    const integration = (name: string) => new WebSocketLambdaIntegration(`${name}Integration`, handler);
    this.api = new apigw.WebSocketApi(this, 'Api', {
      description: 'WebTrigger live updates: one-way event feed per workspace',
      connectRouteOptions: { integration: integration('Connect') },
      disconnectRouteOptions: { integration: integration('Disconnect') },
      defaultRouteOptions: { integration: integration('Fallback') },
    });
    // Client messages are ignored (the feed is one-way), so a low rate limit costs nothing.
    this.stage = new apigw.WebSocketStage(this, 'Stage', { webSocketApi: this.api, stageName: 'live', autoDeploy: true, throttle: { rateLimit: 50, burstLimit: 100 } });
  }

  /** Lets `f` post live events: the management endpoint in its environment and ManageConnections on this stage only. */
  publisher(f: RustFunction) {
    f.addEnvironment('WEBTRIGGER_LIVE_WS_ENDPOINT', this.stage.callbackUrl);
    this.stage.grantManagementApiAccess(f);
  }
}
