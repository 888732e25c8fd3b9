import { Effect } from "effect"
import { RetrySchedule } from "effect-retry-layer"
import { Bedrock } from "effect-retry-layer/bedrock"

// Your own Bedrock call through the AWS SDK (`client.send(new ConverseCommand(...))`); here a stand-in
// that is throttled once, the way the SDK reports it, and then succeeds.
let calls = 0
const send = async () => {
  if (calls++ === 0) {
    throw Object.assign(new Error("Too many requests, please wait before trying again."), {
      name: "ThrottlingException",
      $metadata: { httpStatusCode: 429, requestId: "4c5e7d0a" }
    })
  }
  return { output: { message: { content: [{ text: "Hi from Bedrock" }] } } }
}

const converse = Effect.tryPromise({ try: send, catch: (error) => Bedrock.fromAwsError(error) })

Effect.runPromise(Effect.retry(converse, RetrySchedule.make({ baseDelay: "100 millis" }))).then((response) =>
  console.log(response.output.message.content[0]?.text, `after ${calls} calls`)
)
