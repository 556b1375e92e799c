/** A progress bar on stderr: redrawn in place on a terminal, a line per update otherwise (logs, CI). */
export function progressBar(label: string, stream: NodeJS.WriteStream = process.stderr) {
  const width = 30;
  let lastLine = '';
  const render = (done: number, total?: number) => {
    if (total === undefined || total === 0) return `${label}: ${done.toLocaleString('en')}`;
    const share = Math.min(1, done / total);
    const filled = Math.round(share * width);
    return `${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done.toLocaleString('en')}/${total.toLocaleString('en')} ${Math.round(share * 100)}%`;
  };
  return {
    update(done: number, total?: number) {
      const line = render(done, total);
      if (line === lastLine) return;
      lastLine = line;
      stream.write(stream.isTTY ? `\r${line}` : `${line}\n`);
    },
    finish() {
      if (stream.isTTY && lastLine) stream.write('\n');
    },
  };
}
