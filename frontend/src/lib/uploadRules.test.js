import { describe, expect, it } from 'vitest'

import { MAX_UPLOAD_BYTES, extensionOf, formatBytes, isPreviewableImage, uploadProblem } from './uploadRules.js'

const file = (name, size = 10) => ({ name, size })

describe('uploadProblem', () => {
  it.each(['logo.png', 'photo.JPG', 'photo.jpeg', 'brief.pdf', 'old.doc', 'new.docx', 'notes.txt'])(
    'accepts %s',
    (name) => {
      expect(uploadProblem(file(name))).toBeNull()
    },
  )

  it.each([
    ['setup.exe', '.exe files cannot be uploaded. Use JPG, PNG, PDF, DOC, DOCX or TXT.'],
    ['README', 'Files without an extension cannot be uploaded. Use JPG, PNG, PDF, DOC, DOCX or TXT.'],
    ['archive.tar.gz', '.gz files cannot be uploaded. Use JPG, PNG, PDF, DOC, DOCX or TXT.'],
  ])('rejects %s', (name, message) => {
    expect(uploadProblem(file(name))).toBe(message)
  })

  it('checks the size: not empty, at most 10 MB', () => {
    expect(uploadProblem(file('a.png', 0))).toBe('This file is empty.')
    expect(uploadProblem(file('a.png', MAX_UPLOAD_BYTES))).toBeNull()
    expect(uploadProblem(file('a.png', MAX_UPLOAD_BYTES + 1))).toMatch(/too large/)
    expect(uploadProblem(file('a.png', 12 * 1024 * 1024))).toBe('This file is too large (12.0 MB); the limit is 10.0 MB.')
    expect(uploadProblem(null)).toBe('Choose a file first.')
  })
})

describe('helpers', () => {
  it.each([
    ['a.PNG', 'png'],
    ['dir.v2/file', ''],
    ['', ''],
  ])('extensionOf(%j) -> %j', (name, ext) => {
    expect(extensionOf(name)).toBe(ext)
  })

  it.each([
    [512, '512 B'],
    [12800, '12.5 KB'],
    [3355443, '3.2 MB'],
  ])('formatBytes(%s) -> %s', (n, text) => {
    expect(formatBytes(n)).toBe(text)
  })

  it('previews images only', () => {
    expect(isPreviewableImage(file('a.jpeg'))).toBe(true)
    expect(isPreviewableImage(file('a.pdf'))).toBe(false)
  })
})
