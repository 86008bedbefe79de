/**
 * Whether `data`, read from a socket, holds a whole HTTP/1.1 answer: its headers and as many body
 * bytes as its Content-Length says (answers without one end when the connection closes).
 */
export function answerComplete(data: Buffer): boolean {
  const text = data.toString('latin1');
  const head = text.indexOf('\r\n\r\n');
  const length = /\r\ncontent-length: (\d+)/i.exec(text.slice(0, head))?.[1];
  return head >= 0 && length !== undefined && data.length >= head + 4 + Number(length);
}
