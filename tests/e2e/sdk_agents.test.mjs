// sdk_agents.test.mjs — the OpenAI Agents SDK (@openai/agents) against llmux
// over a Chat-Completions-only backend (llmux-sim, llama.cpp style). The
// model provider uses the Responses API (its default) with only the base URL
// pointed at llmux; tracing is off (it would export to the network).
//
// Version: @openai/agents 0.15 and later depend on openai 7, which needs Node
// 22; 0.14 (openai 6) is the last line that runs on this project's Node 20.
//
// The agent's model settings force a tool call on the first turn
// (toolChoice 'required'); the SDK resets the choice after a tool ran (its
// resetToolChoice default), so the second turn is 'auto' and the sim, whose
// user message names no tool, answers with text.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, Runner, tool, OpenAIProvider, setTracingDisabled } from '@openai/agents';
import { z } from 'zod';
import { startSim, startLlmux, makeConfig, stopAll, postJSON, waitFor } from './harness.mjs';

let sim, gw, runner;

before(async () => {
  setTracingDisabled(true);
  sim = await startSim({ args: ['--tokens', '6'] });
  gw = await startLlmux({
    config: (port, dir) => makeConfig({
      port, dir,
      backends: [{ name: 'sim', url: sim.url }],
      models: [{ name: 'chat', backend: 'sim', upstream_model: 'sim-model' }],
    }),
  });
  runner = new Runner({
    modelProvider: new OpenAIProvider({ baseURL: gw.baseURL, apiKey: 'sk-test', useResponses: true }),
    tracingDisabled: true,
  });
});

after(async () => { await stopAll(gw, sim); });

const INSTRUCTIONS = 'You forecast the weather. Use the tool.';
const PROMPT = 'What is the weather like today?';

function forecaster(calls) {
  const getWeather = tool({
    name: 'get_weather',
    description: 'Weather in a city',
    parameters: z.object({ city: z.string() }),
    execute: async ({ city }) => {
      calls.push(city);
      return `21 degrees in ${city}`;
    },
  });
  return new Agent({
    name: 'Forecaster', instructions: INSTRUCTIONS, model: 'chat', tools: [getWeather],
    modelSettings: { toolChoice: 'required' },
  });
}

async function simText(messages) {
  const r = await postJSON(`${sim.url}/chat/completions`, { model: 'sim-model', messages });
  assert.equal(r.status, 200, r.text);
  return r.json.choices[0].message.content;
}

/** The second model call as the backend got it: instructions as the system
 * message, the prompt, the tool call and its output. */
async function assertSecondCall(city) {
  const sent = (await sim.last()).json;
  assert.equal(sent.messages.length, 4, JSON.stringify(sent.messages));
  assert.deepEqual(sent.messages[0], { role: 'system', content: INSTRUCTIONS });
  assert.deepEqual(sent.messages[1], { role: 'user', content: PROMPT });
  const call = sent.messages[2].tool_calls[0];
  assert.equal(call.function.name, 'get_weather');
  assert.deepEqual(JSON.parse(call.function.arguments), { city });
  assert.deepEqual(sent.messages[3], { role: 'tool', tool_call_id: call.id, content: `21 degrees in ${city}` });
  assert.equal(sent.tool_choice, undefined, 'the SDK reset tool_choice after the tool ran');
  return sent;
}

async function assertAuditLoop(stream) {
  const recs = await waitFor(() => {
    const r = gw.audit().filter((x) => x.endpoint === '/v1/responses' && x.stream === stream);
    return r.length >= 2 ? r : null;
  }, { what: 'two audit records' });
  const [first, second] = recs.slice(-2);
  assert.deepEqual([first.status, first.finish_reason, first.tool_calls], [200, 'tool_calls', ['get_weather']]);
  assert.deepEqual([second.status, second.finish_reason, second.tool_calls], [200, 'stop', []]);
}

test('run(agent, input) calls the function tool and returns the final output', async () => {
  const calls = [];
  const r = await runner.run(forecaster(calls), PROMPT);
  assert.equal(calls.length, 1, 'the tool ran once');
  assert.deepEqual(r.newItems.map((i) => i.type), ['tool_call_item', 'tool_call_output_item', 'message_output_item']);
  assert.equal(r.newItems[0].rawItem.name, 'get_weather');
  assert.equal(r.newItems[1].output, `21 degrees in ${calls[0]}`);
  const sent = await assertSecondCall(calls[0]);
  assert.ok(r.finalOutput.length > 0);
  assert.equal(r.finalOutput, await simText(sent.messages));
  assert.equal(r.rawResponses.length, 2);
  assert.ok(r.rawResponses.every((m) => m.responseId.startsWith('resp_')));
  await assertAuditLoop(false);
});

test('a streamed run emits the tool call, its output and the answer', async () => {
  const calls = [];
  const s = await runner.run(forecaster(calls), PROMPT, { stream: true });
  const items = [];
  let deltas = '';
  for await (const e of s) {
    if (e.type === 'run_item_stream_event') items.push(e.name);
    if (e.type === 'raw_model_stream_event' && e.data.type === 'output_text_delta') deltas += e.data.delta;
  }
  await s.completed;
  assert.equal(s.error ?? null, null);
  assert.equal(calls.length, 1, 'the tool ran once');
  assert.deepEqual(items, ['tool_called', 'tool_output', 'message_output_created']);
  const sent = await assertSecondCall(calls[0]);
  assert.equal(sent.stream, true);
  assert.ok(deltas.length > 0);
  assert.equal(s.finalOutput, deltas);
  assert.equal(s.finalOutput, await simText(sent.messages));
  await assertAuditLoop(true);
});
