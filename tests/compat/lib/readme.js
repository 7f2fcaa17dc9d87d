'use strict';
// Reads the instructions out of the README that `scgate new-plugin` writes into a project, so
// that a test follows them exactly as a developer would, whatever the templates say today:
//   sections(text)      -> [{title, body}] for each `## ` heading
//   shellLines(body)    -> the commands of the ```sh blocks, without trailing `# comments`
//   firstShellLines(body) -> those of the first ```sh block only
//   tomlBlocks(body)    -> the contents of the ```toml blocks

function sections(text) {
  const parts = text.split(/^## +/m).slice(1);
  return parts.map((part) => {
    const newline = part.indexOf('\n');
    return {title: part.slice(0, newline).trim(), body: part.slice(newline + 1)};
  });
}

function blocks(body, lang) {
  const re = new RegExp('^```' + lang + '\\s*\\n([\\s\\S]*?)^```', 'gm');
  return [...body.matchAll(re)].map((m) => m[1]);
}

function commands(block) {
  return block
    .split('\n')
    .map((line) => line.replace(/\s+#\s.*$/, '').trim())
    .filter((line) => line && !line.startsWith('#'));
}

function shellLines(body) {
  return blocks(body, 'sh').flatMap(commands);
}

function firstShellLines(body) {
  return blocks(body, 'sh').slice(0, 1).flatMap(commands);
}

function tomlBlocks(body) {
  return blocks(body, 'toml');
}

module.exports = {sections, shellLines, firstShellLines, tomlBlocks};
