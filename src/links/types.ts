/** One link found in a record: `path` is Constellation-style with its leading dot (".subject.uri"). */
export interface ExtractedLink {
  path: string
  target: string
}
