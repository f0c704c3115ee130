import { render, screen, waitFor } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { beforeEach, describe, expect, it, vi } from 'vitest'

import { useUploads } from '../lib/useUploads.js'
import { callsTo, mockApi } from '../test/apiRoutes.js'
import { jsonResponse } from '../test/helpers.jsx'
import UploadPanel from './UploadPanel.jsx'

// XMLHttpRequest stand-in: the presigned POST goes to storage, not through fetch.
class FakeXhr {
  static sent = []
  static answer = { status: 204, body: '' }

  constructor() {
    this.upload = {}
    FakeXhr.sent.push(this)
  }

  open(method, url) {
    this.method = method
    this.url = url
  }

  send(form) {
    this.form = form
    queueMicrotask(() => {
      this.upload.onprogress?.({ lengthComputable: true, loaded: 40, total: 100 })
      this.status = FakeXhr.answer.status
      this.responseText = FakeXhr.answer.body
      if (FakeXhr.answer.network) this.onerror?.()
      else this.onload?.()
    })
  }

  abort() {}
}

const PNG = () => new File([new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2])], 'logo.png', { type: 'image/png' })
const TICKET = {
  upload_id: 'upl_1',
  url: 'http://storage.test/bucket',
  fields: { key: 'users/u/sessions/s1/uploads/upl_1/upl_1.png', 'Content-Type': 'image/png', policy: 'p' },
  expires_in: 600,
  max_bytes: 10485760,
  stored_name: 'upl_1.png',
}
const STORED = {
  upload_id: 'upl_1',
  session_id: 's1',
  stored_name: 'upl_1.png',
  content_type: 'image/png',
  size: 10,
  display_name: 'logo.png',
  kind: 'image',
  stored_at: 't',
}

function Harness() {
  return <UploadPanel uploads={useUploads('s1')} />
}

beforeEach(() => {
  FakeXhr.sent = []
  FakeXhr.answer = { status: 204, body: '' }
  vi.stubGlobal('XMLHttpRequest', FakeXhr)
})

describe('UploadPanel', () => {
  it('previews an image, posts it to storage with the ticket fields, then has it checked', async () => {
    const fetchMock = mockApi({
      '/api/uploads?session_id=s1': { uploads: [] },
      'POST /api/upload': TICKET,
      'POST /api/upload/upl_1/complete': STORED,
    })
    const user = userEvent.setup()
    render(<Harness />)

    await user.upload(screen.getByLabelText('File to upload'), PNG())
    expect(await screen.findByAltText('Preview of logo.png')).toHaveAttribute('src', expect.stringMatching(/^data:image\/png;base64,/))
    await user.click(screen.getByRole('button', { name: 'Upload' }))

    expect(await screen.findByRole('status')).toHaveTextContent('“logo.png” was uploaded.')
    const [, init] = callsTo(fetchMock, '/api/upload', 'POST')[0]
    expect(JSON.parse(init.body)).toEqual({ session_id: 's1', filename: 'logo.png', content_type: '', size: 10 })
    const xhr = FakeXhr.sent[0]
    expect(xhr.method).toBe('POST')
    expect(xhr.url).toBe('http://storage.test/bucket')
    expect([...xhr.form.keys()]).toEqual(['key', 'Content-Type', 'policy', 'file'])
    expect(xhr.form.get('file').name).toBe('logo.png')
    expect(callsTo(fetchMock, '/api/upload/upl_1/complete', 'POST')).toHaveLength(1)
    expect(screen.getByRole('list', { name: 'Uploaded files' })).toHaveTextContent('logo.png')
    expect(screen.queryByAltText('Preview of logo.png')).not.toBeInTheDocument()
  })

  it('shows the progress bar while the file is posted', async () => {
    let finish
    mockApi({
      '/api/uploads?session_id=s1': { uploads: [] },
      'POST /api/upload': TICKET,
      'POST /api/upload/upl_1/complete': () => new Promise((resolve) => (finish = () => resolve(jsonResponse(200, STORED)))),
    })
    const user = userEvent.setup()
    render(<Harness />)
    await user.upload(screen.getByLabelText('File to upload'), PNG())
    await user.click(screen.getByRole('button', { name: 'Upload' }))

    // Storage took the file; the check has not answered yet.
    const bar = await screen.findByRole('progressbar', { name: 'Upload progress' })
    await waitFor(() => expect(bar).toHaveAttribute('aria-valuenow', '100'))
    expect(screen.getByText('Uploading… 100%')).toBeInTheDocument()
    finish()
    expect(await screen.findByRole('status')).toHaveTextContent('was uploaded')
    expect(screen.queryByRole('progressbar')).not.toBeInTheDocument()
  })

  it('refuses a file type before anything is sent', async () => {
    const fetchMock = mockApi({ '/api/uploads?session_id=s1': { uploads: [] } })
    const user = userEvent.setup({ applyAccept: false })
    render(<Harness />)
    await user.upload(screen.getByLabelText('File to upload'), new File(['MZ'], 'setup.exe'))

    expect(screen.getByRole('alert')).toHaveTextContent('.exe files cannot be uploaded. Use JPG, PNG, PDF, DOC, DOCX or TXT.')
    expect(screen.getByRole('button', { name: 'Upload' })).toBeDisabled()
    expect(fetchMock).toHaveBeenCalledTimes(1)
  })

  it('says why the server refused the bytes', async () => {
    mockApi({
      '/api/uploads?session_id=s1': { uploads: [] },
      'POST /api/upload': TICKET,
      'POST /api/upload/upl_1/complete': () =>
        jsonResponse(415, {
          error: 'UnsupportedMediaType',
          message: 'logo.png is not a PNG image: its bytes are UTF-8 text; it was deleted',
        }),
    })
    const user = userEvent.setup()
    render(<Harness />)
    await user.upload(screen.getByLabelText('File to upload'), PNG())
    await user.click(screen.getByRole('button', { name: 'Upload' }))
    expect(await screen.findByRole('alert')).toHaveTextContent('its bytes are UTF-8 text; it was deleted')
  })

  it('says what storage answered when it refused the post', async () => {
    FakeXhr.answer = { status: 403, body: '<Error><Code>AccessDenied</Code><Message>Policy expired</Message></Error>' }
    mockApi({ '/api/uploads?session_id=s1': { uploads: [] }, 'POST /api/upload': TICKET })
    const user = userEvent.setup()
    render(<Harness />)
    await user.upload(screen.getByLabelText('File to upload'), PNG())
    await user.click(screen.getByRole('button', { name: 'Upload' }))
    expect(await screen.findByRole('alert')).toHaveTextContent('Storage refused the file: Policy expired')
  })

  it('takes a dropped file and lists earlier uploads', async () => {
    mockApi({ '/api/uploads?session_id=s1': { uploads: [{ ...STORED, upload_id: 'upl_0', display_name: 'brief.pdf', size: 2048 }] } })
    render(<Harness />)
    expect(await screen.findByRole('list', { name: 'Uploaded files' })).toHaveTextContent('brief.pdf2.0 KB')
    const zone = screen.getByText('or drop it here').parentElement
    const { fireEvent } = await import('@testing-library/react')
    fireEvent.drop(zone, { dataTransfer: { files: [new File(['x'.repeat(20)], 'notes.txt')] } })
    expect(await screen.findByText('notes.txt')).toBeInTheDocument()
    expect(screen.getByRole('button', { name: 'Upload' })).toBeEnabled()
  })
})
