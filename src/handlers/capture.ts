/** Keeps the last `max` bytes of a stream in bounded memory (the end of an output says most). */
export class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  truncated = false;

  constructor(private readonly max: number) {}

  push(chunk: Buffer): void {
    if (this.max <= 0) {
      this.truncated ||= chunk.length > 0;
      return;
    }
    if (chunk.length >= this.max) {
      this.truncated ||= this.size > 0 || chunk.length > this.max;
      this.chunks = [chunk.subarray(chunk.length - this.max)];
      this.size = this.max;
      return;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > this.max) {
      const first = this.chunks[0];
      if (!first) break;
      const excess = this.size - this.max;
      this.truncated = true;
      if (first.length <= excess) {
        this.chunks.shift();
        this.size -= first.length;
      } else {
        // Copy so the dropped head of a large chunk can be freed.
        this.chunks[0] = Buffer.from(first.subarray(excess));
        this.size -= excess;
      }
    }
  }

  /** UTF-8 text; a character cut in half at the front of a truncated tail is dropped. */
  text(): string {
    const s = Buffer.concat(this.chunks, this.size).toString('utf8');
    return this.truncated ? s.replace(/^\uFFFD+/, '') : s;
  }
}
